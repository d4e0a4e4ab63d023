"""debug: print a message or a variable (runs on the controller)."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Module, TaskContext


class Debug(Module):
    name = "debug"
    runs_on = "controller"
    doc = "Print a message (msg) or the value of a variable (var) during the run."
    examples = "- debug:\n    msg: 'Docker {{ docker_version }}'\n- debug:\n    var: result.stdout_lines\n"
    args = {
        "msg": Arg("raw", default="Hello world!", doc="The message to print."),
        "var": Arg("str", doc="A variable name (or expression) to print; exclusive with msg."),
        "verbosity": Arg("int", default=0, doc="Only print at this -v level or above."),
    }
    mutually_exclusive = (("msg", "var"),)

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: Any = None) -> dict[str, Any]:
        if args.get("var"):
            templar = ctx.templar
            name = args["var"]
            try:
                value = templar.evaluate(name)
            except Exception:  # noqa: BLE001 - Ansible prints the undefined message instead of failing
                value = "VARIABLE IS NOT DEFINED!"
            return {"changed": False, name: value, "_hostprep_debug": True}
        return {"changed": False, "msg": args["msg"], "_hostprep_debug": True}
