"""sysctl: a kernel parameter in a sysctl.d file and (optionally) in the running kernel."""

from __future__ import annotations

import base64
from typing import Any

from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext, Upload
from hostprep.modules.shellutil import q, sections


class SysctlModule(Module):
    reports_command_output = False
    name = "sysctl"
    doc = "Set a sysctl value in sysctl_file (default /etc/sysctl.conf) and apply it with sysctl -w."
    examples = "- sysctl:\n    name: net.ipv4.ip_forward\n    value: '1'\n    sysctl_set: true\n"
    gives_diff = False  # ansible.posix's module has no diff support: --diff shows and registers none
    args = {
        "name": Arg("str", required=True, aliases=("key",)),
        "value": Arg("str", aliases=("val",)),
        "state": Arg("str", default="present", choices=("present", "absent")),
        "sysctl_file": Arg("path", default="/etc/sysctl.conf"),
        "reload": Arg("bool", default=True),
        "sysctl_set": Arg("bool", default=False),
        "ignoreerrors": Arg("bool", default=False),
    }

    def probe(self, args: dict[str, Any]) -> str | None:
        f = q(args["sysctl_file"])
        return (f"echo '@@hostprep:file@@'; [ -f {f} ] && base64 < {f}; echo '@@hostprep:live@@'; "
                f"sysctl -n {q(args['name'])} 2>/dev/null")

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        sec = sections(probe.stdout if probe else "")
        raw = sec.get("file", "").strip()
        text = base64.b64decode(raw).decode() if raw else ""
        name, value = args["name"], args.get("value")
        if args["state"] == "present" and value is None:
            return Plan(failed=True, msg="sysctl: value is required with state=present")
        lines = text.splitlines()
        kept = [x for x in lines if x.split("=", 1)[0].strip() != name]
        if args["state"] == "present":
            found = [x for x in lines if x.split("=", 1)[0].strip() == name]
            if found and found[-1].split("=", 1)[1].strip() == str(value).strip() and len(found) == 1:
                new_lines = lines
            else:
                new_lines = kept + [f"{name}={value}"]
        else:
            new_lines = kept
        new = "\n".join(new_lines) + ("\n" if new_lines else "")
        steps: list = []
        if new != text:
            steps.append(Upload(new.encode(), args["sysctl_file"]))
        live = " ".join(sec.get("live", "").split())
        ign = " -e" if args["ignoreerrors"] else ""
        if args["state"] == "present" and (args["sysctl_set"] or (args["reload"] and steps)) \
                and live != " ".join(str(value).split()):
            steps.append(Command(f"sysctl{ign} -w {q(name)}={q(str(value))}"))
        # ansible.posix's sysctl result is `changed` alone (no rc/stdout either)
        return Plan(bool(steps), steps, result={},
                    diff={"before": f"{name}={live}\n", "after": f"{name}={value}\n"} if steps else None)

