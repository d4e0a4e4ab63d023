"""service_facts: systemd's services as ansible_facts.services ({name, state, status, source})."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import sections

BAD_STATES = ("not-found", "masked", "failed")
PROBE = r"""[ -d /run/systemd/system ] || exit 0
echo '@@hostprep:units@@'
systemctl list-units --no-pager --type service --all --plain 2>/dev/null
echo '@@hostprep:files@@'
systemctl list-unit-files --no-pager --type service --all 2>/dev/null
echo '@@hostprep:show@@'
systemctl list-unit-files --no-pager --no-legend --type service --all 2>/dev/null | awk '{print $1}' |
  grep -v '@\.service$' | xargs -r systemctl show --property=Id --property=ActiveState 2>/dev/null
true"""


def parse_services(units: str, files: str, show: str) -> dict[str, dict[str, Any]]:
    """Ansible's SystemctlScanService from the outputs of list-units, list-unit-files and show."""
    services: dict[str, dict[str, Any]] = {}
    for line in units.splitlines():
        if ".service" not in line:
            continue
        fields = line.split()
        if len(fields) < 4:
            continue
        status = next((bad for bad in BAD_STATES if bad in fields[:-1]), fields[2])
        services[fields[0]] = {"name": fields[0], "state": "running" if fields[3] == "running" else "stopped",
                               "status": status, "source": "systemd"}
    active: dict[str, str] = {}
    current: dict[str, str] = {}
    for line in [*show.splitlines(), ""]:
        if not line.strip():
            if "Id" in current:
                active[current["Id"]] = current.get("ActiveState", "unknown")
            current = {}
        elif "=" in line:
            k, v = line.split("=", 1)
            current[k] = v
    for line in files.splitlines():
        if ".service" not in line:
            continue
        fields = line.split()
        if len(fields) < 2:
            continue
        name, status = fields[:2]
        if name not in services:
            services[name] = {"name": name, "state": active.get(name, "unknown"), "status": status,
                              "source": "systemd"}
        elif services[name]["status"] not in BAD_STATES:
            services[name]["status"] = status
    return services


class ServiceFactsModule(Module):
    name = "service_facts"
    doc = "Gather systemd's services into ansible_facts.services: {unit: {name, state, status, source}}."
    examples = ("- service_facts:\n- debug:\n    var: ansible_facts.services['sshd.service'].state\n")
    args: dict = {}

    def probe(self, args: dict[str, Any]) -> str | None:
        return PROBE

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        sec = sections(probe.stdout if probe else "")
        services = parse_services(sec.get("units", ""), sec.get("files", ""), sec.get("show", ""))
        if not services:
            return Plan(False, result={"skipped": True, "msg": "Failed to find any services. This can be due to "
                                                                "privileges or some other configuration issue."})
        return Plan(False, result={"ansible_facts": {"services": services}})
