"""package_facts: the installed packages (rpm or dpkg) as ansible_facts.packages, in Ansible's shape."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import sections

SUPPORTED = ("rpm", "apt")
RPM_QUERY = r"rpm -qa --qf '%{NAME}\t%{VERSION}\t%{RELEASE}\t%{EPOCH}\t%{ARCH}\n'"
DPKG_QUERY = (r"dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\t${Section}\t"
              r"${Origin}\n'")


def parse_rpm(text: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 5:
            continue
        name, version, release, epoch, arch = parts
        out.setdefault(name, []).append({"name": name, "version": version, "release": release,
                                         "epoch": None if epoch == "(none)" else epoch, "arch": arch,
                                         "source": "rpm"})
    return out


def parse_dpkg(text: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 6 or not parts[0].startswith("ii"):
            continue
        _status, name, version, arch, section, origin = parts
        out.setdefault(name, []).append({"name": name, "version": version, "arch": arch, "category": section,
                                         "origin": origin, "source": "apt"})
    return out


class PackageFactsModule(Module):
    name = "package_facts"
    doc = ("Gather the installed packages into ansible_facts.packages: {name: [{name, version, release, epoch, arch, "
           "source}]} from rpm, or {name: [{name, version, arch, category, origin, source}]} from dpkg (apt).")
    examples = ("- package_facts:\n    manager: auto\n- debug:\n    msg: \"docker-ce is installed\"\n"
                "  when: \"'docker-ce' in ansible_facts.packages\"\n")
    args = {
        "manager": Arg("list", elements="str", default=["auto"], doc="auto, rpm or apt (the first that works)."),
        "strategy": Arg("str", default="first", choices=("first", "all"),
                        doc="first: the first manager found; all: merge every manager found."),
    }

    def _managers(self, args: dict[str, Any]) -> list[str]:
        managers = [m.lower() for m in args["manager"]]
        if "auto" in managers:
            managers = [m for m in managers if m != "auto"] + [m for m in SUPPORTED if m not in managers]
        return managers

    def probe(self, args: dict[str, Any]) -> str | None:
        parts = []
        for m in self._managers(args):
            if m == "rpm":
                parts.append(f"echo '@@hostprep:rpm@@'; command -v rpm >/dev/null 2>&1 && {RPM_QUERY} 2>/dev/null")
            elif m == "apt":
                parts.append(f"echo '@@hostprep:apt@@'; command -v dpkg-query >/dev/null 2>&1 && "
                             f"{DPKG_QUERY} 2>/dev/null")
        return "\n".join(parts + ["true"])

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        managers = self._managers(args)
        unsupported = [m for m in managers if m not in SUPPORTED]
        if unsupported:
            return Plan(failed=True, msg=f"Unsupported package managers requested: {', '.join(unsupported)}")
        sec = sections(probe.stdout if probe else "")
        packages: dict[str, list[dict[str, Any]]] = {}
        found = False
        for m in managers:
            if args["strategy"] == "first" and found:
                break
            text = sec.get(m, "")
            if not text.strip():
                continue
            found = True
            for name, entries in (parse_rpm(text) if m == "rpm" else parse_dpkg(text)).items():
                packages.setdefault(name, []).extend(entries)
        if not found:
            return Plan(failed=True, msg="Could not detect a supported package manager from the following list: "
                                         f"{managers}, or the required Python library is not installed. "
                                         "Check warnings for details.")
        return Plan(False, result={"ansible_facts": {"packages": packages}})
