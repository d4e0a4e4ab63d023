"""service: Ansible's generic service module; on these hosts (systemd) it drives systemctl."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.systemd import plan_unit, unit_probe


class ServiceModule(Module):
    name = "service"
    doc = ("Manage a service's state and enablement. Only systemd hosts are supported (use: auto or systemd); "
           "`sleep` waits between the stop and start of a restart.")
    examples = "- service:\n    name: docker\n    state: started\n    enabled: true\n"
    args = {
        "name": Arg("str", required=True),
        "state": Arg("str", choices=("reloaded", "restarted", "started", "stopped")),
        "enabled": Arg("bool"),
        "sleep": Arg("int"),
        "use": Arg("str", default="auto", choices=("auto", "systemd")),
    }
    required_one_of = (("state", "enabled"),)

    def probe(self, args: dict[str, Any]) -> str | None:
        return unit_probe(args["name"])

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        plan = plan_unit(args, probe)
        if args["state"] == "restarted" and args.get("sleep"):
            for step in plan.steps:
                if getattr(step, "cmd", "").startswith("systemctl restart "):
                    unit = step.cmd.split(" ", 2)[2]
                    step.cmd = f"systemctl stop {unit} && sleep {int(args['sleep'])} && systemctl start {unit}"
        return plan
