"""wait_for_connection: wait until the host answers over a fresh connection (after a reboot, a network change)."""

from __future__ import annotations

import time
from typing import Any

from hostprep.errors import HostprepError
from hostprep.modules.base import Arg, Module, ProbeResult, TaskContext


class WaitForConnectionModule(Module):
    name = "wait_for_connection"
    doc = ("Wait (delay, then retry every sleep seconds up to timeout) until the host can be reached again and runs "
           "a command (`true` as Ansible's ping). The connection is re-opened on each attempt. Check mode skips it.")
    examples = "- wait_for_connection:\n    delay: 5\n    timeout: 300\n"
    args = {
        "connect_timeout": Arg("int", default=5),
        "delay": Arg("int", default=0),
        "sleep": Arg("int", default=1),
        "timeout": Arg("int", default=600),
    }

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: ProbeResult | None = None) -> dict[str, Any]:
        if ctx.check_mode:
            return {"changed": False, "skipped": True}
        start = time.monotonic()
        if args["delay"]:
            time.sleep(args["delay"])
        deadline = start + args["delay"] + args["timeout"]
        reconnect = getattr(ctx.transport, "reconnect", None)
        error = ""
        while True:
            try:
                if reconnect is not None:
                    reconnect(timeout=max(1.0, min(args["connect_timeout"], deadline - time.monotonic())))
                res = ctx.run("echo pong", become=False, timeout=args["connect_timeout"] + 5)
                if res.rc == 0 and "pong" in res.stdout:
                    return {"changed": False, "elapsed": int(time.monotonic() - start)}
                error = f"ping test failed (rc={res.rc})"
            except HostprepError as exc:
                error = str(exc)
            if time.monotonic() + args["sleep"] >= deadline:
                return {"changed": False, "failed": True, "elapsed": int(time.monotonic() - start),
                        "msg": f"timed out waiting for ping module test: {error}"}
            time.sleep(args["sleep"])
