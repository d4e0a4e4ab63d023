"""service: Ansible's generic service module; on these hosts (systemd) it drives systemctl.

As Ansible's service action does on a systemd host, the call goes to the systemd module, so
`daemon_reload`, `daemon_reexec`, `masked`, `no_block`, `force` and `scope` are taken here too.
"""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Plan, ProbeResult, TaskContext
from hostprep.modules.systemd import SystemdModule, plan_unit


class ServiceModule(SystemdModule):
    name = "service"
    aliases = ()
    doc = ("Manage a service's state and enablement. Only systemd hosts are supported (use: auto or systemd); "
           "the systemd module's arguments (daemon_reload, masked, ...) are taken as Ansible forwards them; "
           "`sleep` waits between the stop and start of a restart.")
    examples = ("- service:\n    name: docker\n    state: started\n    enabled: true\n"
                "- service:\n    daemon_reload: true\n")
    args = {
        **SystemdModule.args,
        "sleep": Arg("int"),
        "use": Arg("str", default="auto", choices=("auto", "systemd")),
    }
    required_one_of = (("name", "daemon_reload", "daemon_reexec"),)

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        plan = plan_unit(args, probe)
        if args.get("state") == "restarted" and args.get("sleep"):
            for step in plan.steps:
                if getattr(step, "cmd", "").startswith("systemctl restart "):
                    unit = step.cmd.split(" ", 2)[2]
                    step.cmd = f"systemctl stop {unit} && sleep {int(args['sleep'])} && systemctl start {unit}"
        return plan
