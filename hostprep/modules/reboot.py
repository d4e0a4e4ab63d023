"""reboot: reboot the host, wait until it is back (a new boot) and answers test_command.

Needs from the transport: `reconnect(timeout=...)` (SSHTransport has it) so that commands after
the reboot go over a fresh connection; without it the module keeps retrying `run` on the old
transport object, which works only for transports that reconnect on their own.
"""

from __future__ import annotations

import time
from typing import Any

from hostprep.errors import UnreachableError
from hostprep.modules.base import Arg, Module, ProbeResult, TaskContext
from hostprep.modules.shellutil import q

DEFAULT_BOOT_ID = "cat /proc/sys/kernel/random/boot_id"


def reboot_command(args: dict[str, Any]) -> str:
    """What to run: the user's reboot_command, else shutdown -r with the delay in minutes (as Ansible)."""
    if args.get("reboot_command"):
        return args["reboot_command"]
    minutes = max(0, args["pre_reboot_delay"] // 60)
    return f"shutdown -r +{minutes} {q(args['msg'])} || systemctl reboot"


def detached(cmd: str, seconds: int) -> str:
    """Run `cmd` in the background after `seconds`, so the SSH command returns before the host goes down."""
    return f"nohup sh -c {q(f'sleep {seconds}; {cmd}')} >/dev/null 2>&1 &"


class RebootModule(Module):
    name = "reboot"
    doc = ("Reboot and wait: the boot identity (boot_time_command) must change and test_command must succeed "
           "within reboot_timeout seconds; the connection is re-opened. Check mode reports a reboot only.")
    examples = "- reboot:\n    reboot_timeout: 300\n"
    args = {
        "reboot_timeout": Arg("int", default=600),
        "connect_timeout": Arg("int"),
        "pre_reboot_delay": Arg("int", default=0),
        "post_reboot_delay": Arg("int", default=0),
        "test_command": Arg("str", default="whoami"),
        "msg": Arg("str", default="Reboot initiated by hostprep"),
        "boot_time_command": Arg("str", default=DEFAULT_BOOT_ID),
        "reboot_command": Arg("str"),
        "search_paths": Arg("list", elements="str", default=["/sbin", "/bin", "/usr/sbin", "/usr/bin",
                                                             "/usr/local/sbin"]),
    }

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: ProbeResult | None = None) -> dict[str, Any]:
        if ctx.check_mode:
            return {"changed": True, "rebooted": False, "msg": "would reboot (check mode)"}
        started = time.monotonic()
        first = ctx.run(args["boot_time_command"])
        before = first.stdout.strip()
        if first.rc != 0 or not before:
            return {"failed": True, "changed": False, "rebooted": False,
                    "msg": f"boot_time_command failed (rc={first.rc}): {first.stderr.strip()}"}
        path = ":".join(args["search_paths"])
        # the sub-minute part of pre_reboot_delay is slept on the host before shutdown runs
        lead = 1 + (args["pre_reboot_delay"] % 60 if not args.get("reboot_command") else args["pre_reboot_delay"])
        try:
            ctx.run(f"PATH={q(path)}:$PATH; export PATH; {detached(reboot_command(args), lead)}")
        except UnreachableError:
            pass  # the connection may drop as the host goes down
        reconnect = getattr(ctx.transport, "reconnect", None)
        deadline = time.monotonic() + args["reboot_timeout"]
        time.sleep(lead + 1)
        last_error = ""
        while time.monotonic() < deadline:
            try:
                if reconnect is not None:
                    budget = deadline - time.monotonic()
                    reconnect(timeout=max(1.0, min(budget, args.get("connect_timeout") or budget)))
                now = ctx.run(args["boot_time_command"]).stdout.strip()
                if now and now != before:
                    test = ctx.run(args["test_command"])
                    if test.rc == 0:
                        if args["post_reboot_delay"]:
                            time.sleep(args["post_reboot_delay"])
                        return {"changed": True, "rebooted": True, "elapsed": int(time.monotonic() - started)}
                    last_error = f"test_command rc={test.rc}: {test.stderr.strip()}"
            except UnreachableError as exc:
                last_error = str(exc)
            time.sleep(1)
        return {"failed": True, "changed": True, "rebooted": False,
                "msg": f"timed out waiting for the host to come back after {args['reboot_timeout']}s"
                       + (f" ({last_error})" if last_error else "")}
