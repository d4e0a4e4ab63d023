"""reboot: reboot the host, wait until it is back (a new boot) and answers test_command."""

from __future__ import annotations

import time
from typing import Any

from hostprep.errors import UnreachableError
from hostprep.modules.base import Arg, Module, ProbeResult, TaskContext


class RebootModule(Module):
    name = "reboot"
    supports_check_mode = True
    doc = ("Reboot and wait: the boot identity (boot_time_command) must change and test_command must succeed "
           "within reboot_timeout seconds; the connection is re-opened.")
    examples = "- reboot:\n    reboot_timeout: 300\n"
    args = {
        "reboot_timeout": Arg("int", default=600),
        "connect_timeout": Arg("int"),
        "pre_reboot_delay": Arg("int", default=0),
        "post_reboot_delay": Arg("int", default=0),
        "test_command": Arg("str", default="whoami"),
        "msg": Arg("str", default="Reboot initiated by hostprep"),
        "boot_time_command": Arg("str", default="cat /proc/sys/kernel/random/boot_id"),
        "reboot_command": Arg("str"),
        "search_paths": Arg("list", elements="str"),
    }

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: ProbeResult | None = None) -> dict[str, Any]:
        if ctx.check_mode:
            return {"changed": True, "rebooted": False, "msg": "would reboot (check mode)"}
        started = time.monotonic()
        before = ctx.run(args["boot_time_command"]).stdout.strip()
        delay_min = max(0, args["pre_reboot_delay"] // 60)
        cmd = args.get("reboot_command") or f"shutdown -r +{delay_min} {args['msg']!r} || systemctl reboot"
        # detach so the command's own connection may drop without failing the task
        try:
            ctx.run(f"nohup sh -c {_q('sleep 1; ' + cmd)} >/dev/null 2>&1 &")
        except UnreachableError:
            pass
        reconnect = getattr(ctx.transport, "reconnect", None)
        deadline = time.monotonic() + args["reboot_timeout"]
        time.sleep(2)
        while time.monotonic() < deadline:
            try:
                if reconnect is not None:
                    reconnect(timeout=max(1.0, deadline - time.monotonic()))
                now = ctx.run(args["boot_time_command"]).stdout.strip()
                if now and now != before and ctx.run(args["test_command"]).rc == 0:
                    if args["post_reboot_delay"]:
                        time.sleep(args["post_reboot_delay"])
                    return {"changed": True, "rebooted": True, "elapsed": int(time.monotonic() - started)}
            except UnreachableError:
                pass
            time.sleep(1)
        return {"failed": True, "changed": True, "rebooted": False,
                "msg": f"timed out waiting for the host to come back after {args['reboot_timeout']}s"}


def _q(text: str) -> str:
    import shlex

    return shlex.quote(text)
