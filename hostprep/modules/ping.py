"""ping: the host answers a shell command over its connection (Ansible's connectivity check)."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Module, ProbeResult, TaskContext


class PingModule(Module):
    name = "ping"
    doc = ("Check that the host can be reached and runs commands; returns ping: pong (or `data`). "
           "`data: crash` fails, as Ansible's does.")
    examples = "- ping:\n"
    args = {"data": Arg("str", default="pong")}

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: ProbeResult | None = None) -> dict[str, Any]:
        if args["data"] == "crash":
            return {"failed": True, "changed": False, "msg": "boom (data=crash)"}
        res = ctx.probe("echo pong")
        if res.rc != 0 or res.stdout.strip() != "pong":
            return {"failed": True, "changed": False, "rc": res.rc,
                    "msg": f"the host did not answer: {res.stderr.strip() or res.stdout.strip()}"}
        return {"changed": False, "ping": args["data"]}
