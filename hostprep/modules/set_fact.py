"""set_fact: set host variables for the rest of the run (controller side)."""

from __future__ import annotations

from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules.base import Module, TaskContext, to_bool


class SetFact(Module):
    name = "set_fact"
    runs_on = "controller"
    doc = "Set variables on the host for the following tasks (set_fact precedence)."
    examples = "- set_fact:\n    docker_ready: true\n    cacheable: false\n"
    args = {}
    accepts_any_args = True

    def validate(self, raw: dict[str, Any]) -> dict[str, Any]:
        out = dict(raw)
        if "cacheable" in out:
            out["cacheable"] = to_bool(out["cacheable"], "cacheable")
        if not [k for k in out if k != "cacheable"]:
            raise ModuleArgError("set_fact: no variables given", key="set_fact")
        for key in out:
            if not isinstance(key, str) or not key.isidentifier():
                raise ModuleArgError(f"set_fact: {key!r} is not a valid variable name", key=str(key))
        return out

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: Any = None) -> dict[str, Any]:
        facts = {k: v for k, v in args.items() if k != "cacheable"}
        return {"changed": False, "ansible_facts": facts, "_hostprep_set_fact": True,
                "_hostprep_cacheable": bool(args.get("cacheable"))}
