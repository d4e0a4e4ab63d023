"""raw: send a command line as is (no probes, always changed)."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q


class RawModule(Module):
    name = "raw"
    free_form = "_raw_params"
    supports_check_mode = False
    doc = "Run a command line through the login shell, with nothing else around it (bootstrap hosts)."
    examples = "- raw: dnf -y install python3\n"
    args = {"_raw_params": Arg("str", required=True, doc="The command line."),
            "executable": Arg("path", doc="Shell to run it with.")}

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        cmd = args["_raw_params"]
        if args.get("executable"):
            cmd = f"{q(args['executable'])} -c {q(cmd)}"
        return Plan(True, steps=[Command(cmd)])

    def finish(self, args: dict[str, Any], plan: Plan, outputs: list, ctx: TaskContext) -> dict:
        """rc and the output as the command gave it (Ansible's raw strips nothing)."""
        result = dict(plan.result)
        if outputs:
            last = outputs[-1]
            result.update(rc=last.rc, stdout=last.stdout, stderr=last.stderr, stdout_lines=last.stdout.splitlines(),
                          stderr_lines=last.stderr.splitlines())
        return result
