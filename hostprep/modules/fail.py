"""fail: stop the host with a message (controller side)."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Module, TaskContext


class Fail(Module):
    name = "fail"
    runs_on = "controller"
    doc = "Fail the host with a custom message."
    examples = "- fail:\n    msg: unsupported platform\n  when: ansible_facts['os_family'] != 'RedHat'\n"
    args = {"msg": Arg("raw", default="Failed as requested from task", doc="The failure message.")}

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: Any = None) -> dict[str, Any]:
        return {"failed": True, "changed": False, "msg": args["msg"]}
