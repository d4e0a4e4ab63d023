"""timezone (community.general): the host's time zone and hardware clock, through timedatectl.

As Ansible's module on a Linux host where `timedatectl` works (every systemd EL host); a host without a
working timedatectl (Ansible edits /etc/sysconfig/clock there) is refused when the task is reached.
"""

from __future__ import annotations

import re
from typing import Any

from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q, sections

PROBE = r"""echo '@@hostprep:status@@'
if command -v timedatectl >/dev/null 2>&1 && timedatectl status >/dev/null 2>&1; then
  echo 'usable: yes'; timedatectl status
fi
echo '@@hostprep:zonefile@@'
[ -f {zonefile} ] && echo yes
true"""

NAME = re.compile(r"^\s*Time ?zone\s*:\s*(\S+)", re.MULTILINE)
RTC = re.compile(r"^\s*RTC in local TZ\s*:\s*(\S+)", re.MULTILINE)


class TimezoneModule(Module):
    reports_command_output = False
    name = "timezone"
    collection = "community.general"
    doc = "Set the time zone (a name under /usr/share/zoneinfo) and whether the hardware clock keeps local time."
    examples = "- timezone:\n    name: Europe/Paris\n"
    args = {
        "name": Arg("str", doc="The time zone, e.g. Etc/UTC or Asia/Tokyo."),
        "hwclock": Arg("str", choices=("local", "UTC"), aliases=("rtc",), doc="What the hardware clock keeps."),
    }
    required_one_of = (("name", "hwclock"),)

    def probe(self, args: dict[str, Any]) -> str | None:
        return PROBE.replace("{zonefile}", q(f"/usr/share/zoneinfo/{args.get('name') or 'UTC'}"))

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        sec = sections(probe.stdout if probe else "")
        status = sec.get("status", "")
        if "usable: yes" not in status:
            return Plan(failed=True, msg="timezone: this host has no working timedatectl; hostprep sets the time "
                                         "zone only through timedatectl")
        name = args.get("name")
        if name is not None and sec.get("zonefile", "").strip() != "yes":
            return Plan(failed=True, msg=f'given timezone "{name}" is not available')
        match_name, match_rtc = NAME.search(status), RTC.search(status)
        current = {"name": match_name.group(1) if match_name else "",
                   "hwclock": "local" if match_rtc and match_rtc.group(1) == "yes" else "UTC"}
        wanted = {k: args[k] for k in ("name", "hwclock") if args.get(k) is not None}
        steps: list[Command] = []
        if "name" in wanted and current["name"] != wanted["name"]:
            steps.append(Command(f"timedatectl set-timezone {q(wanted['name'])}"))
        if "hwclock" in wanted and current["hwclock"] != wanted["hwclock"]:
            steps.append(Command(f"timedatectl set-local-rtc {'yes' if wanted['hwclock'] == 'local' else 'no'}"))
        diff = {"before": {k: current[k] for k in wanted}, "after": wanted}
        return Plan(bool(steps), steps, diff=diff)

