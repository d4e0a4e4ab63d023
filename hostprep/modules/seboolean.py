"""seboolean (ansible.posix.seboolean): an SELinux boolean, now and (persistent) across reboots."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q, sections


def parse_getsebool(text: str) -> bool | None:
    """`name --> on` -> True; None when the boolean is unknown."""
    for line in text.splitlines():
        if "-->" in line:
            return line.split("-->", 1)[1].strip() == "on"
    return None


def parse_semanage(text: str, name: str) -> bool | None:
    """The persistent (configured) value from `semanage boolean -l`: `name (on , off) desc` -> the second."""
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == name and "(" in line and ")" in line:
            values = line[line.index("(") + 1:line.index(")")].split(",")
            if len(values) == 2:
                return values[1].strip() == "on"
    return None


class SebooleanModule(Module):
    name = "seboolean"
    collection = "ansible.posix"
    doc = "Set an SELinux boolean with setsebool; persistent: true also keeps it across reboots (-P)."
    examples = ("- ansible.posix.seboolean:\n    name: httpd_can_network_connect\n    state: true\n"
                "    persistent: true\n")
    args = {
        "name": Arg("str", required=True),
        "state": Arg("bool", required=True),
        "persistent": Arg("bool", default=False),
        "ignore_selinux_state": Arg("bool", default=False),
    }

    def probe(self, args: dict[str, Any]) -> str | None:
        n = q(args["name"])
        return (f"echo '@@hostprep:runtime@@'; getsebool {n} 2>&1; echo '@@hostprep:enforce@@'; "
                f"getenforce 2>/dev/null || echo absent; echo '@@hostprep:persistent@@'; "
                f"semanage boolean -l 2>/dev/null | grep -E '^{args['name']}[[:space:]]'")

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        sec = sections(probe.stdout if probe else "")
        name, wanted = args["name"], args["state"]
        result = {"name": name, "state": wanted, "persistent": args["persistent"]}
        enforce = (sec.get("enforce") or "absent").strip().lower()
        if enforce in ("absent", "disabled") and not args["ignore_selinux_state"]:
            return Plan(failed=True, msg="SELinux is disabled on this host", result=result)
        current = parse_getsebool(sec.get("runtime", ""))
        if current is None:
            return Plan(failed=True, msg=f"SELinux boolean {name} does not exist.", result=result)
        persistent = parse_semanage(sec.get("persistent", ""), name)
        change = current != wanted or (args["persistent"] and persistent is not None and persistent != wanted)
        if not change:
            return Plan(False, result=result)
        flag = "-P " if args["persistent"] else ""
        return Plan(True, [Command(f"setsebool {flag}{q(name)} {'on' if wanted else 'off'}")], result=result,
                    diff={"before": f"{name}: {'on' if current else 'off'}\n",
                          "after": f"{name}: {'on' if wanted else 'off'}\n"})
