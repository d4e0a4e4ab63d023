"""assert: fail unless every condition holds (controller side)."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Module, TaskContext


class Assert(Module):
    name = "assert"
    runs_on = "controller"
    doc = "Check that expressions are true; fail with fail_msg otherwise."
    examples = "- assert:\n    that:\n      - ansible_facts['os_family'] == 'RedHat'\n    fail_msg: unsupported\n"
    args = {
        "that": Arg("list", required=True, doc="Conditions (bare Jinja expressions) that must all hold."),
        "fail_msg": Arg("raw", aliases=("msg",), doc="Message when a condition fails."),
        "success_msg": Arg("raw", doc="Message when all hold."),
        "quiet": Arg("bool", default=False, doc="Less output."),
    }

    def validate(self, raw: dict[str, Any]) -> dict[str, Any]:
        raw = dict(raw)
        if isinstance(raw.get("that"), str):
            raw["that"] = [raw["that"]]
        return super().validate(raw)

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: Any = None) -> dict[str, Any]:
        templar = ctx.templar
        for cond in args["that"]:
            if not templar.is_true(cond):
                return {"failed": True, "changed": False, "assertion": cond, "evaluated_to": False,
                        "msg": args.get("fail_msg") or "Assertion failed"}
        # shown in full without -v, as Ansible's assert sets _ansible_verbose_always
        return {"changed": False, "msg": args.get("success_msg") or "All assertions passed", "_hostprep_show": True}
