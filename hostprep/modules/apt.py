"""apt: Debian/Ubuntu packages (dpkg-query probe, apt-get to change)."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q, sections

ENV = "DEBIAN_FRONTEND=noninteractive"


class AptModule(Module):
    name = "apt"
    doc = "Install, upgrade or remove Debian packages (name or name=version), or a local .deb."
    examples = "- apt:\n    name: [curl, ca-certificates]\n    update_cache: true\n"
    args = {
        "name": Arg("list", elements="str", aliases=("package", "pkg"), default=[]),
        "state": Arg("str", default="present", choices=("absent", "present", "latest", "build-dep", "fixed")),
        "update_cache": Arg("bool", default=False, aliases=("update-cache",)),
        "cache_valid_time": Arg("int", default=0),
        "install_recommends": Arg("bool", aliases=("install-recommends",)),
        "purge": Arg("bool", default=False),
        "autoremove": Arg("bool", default=False),
        "deb": Arg("path"),
        "force": Arg("bool", default=False),
        "upgrade": Arg("str", choices=("no", "yes", "safe", "full", "dist")),
        "allow_downgrade": Arg("bool", default=False),
    }

    def probe(self, args: dict[str, Any]) -> str | None:
        lines = []
        for i, spec in enumerate(args["name"]):
            name, _, version = spec.partition("=")
            lines.append(f"echo '@@hostprep:p{i}@@'; dpkg-query -W -f='${{Status}}|${{Version}}\\n' {q(name)} "
                         "2>/dev/null")
            if args["state"] == "latest":
                lines.append(f"echo '@@hostprep:c{i}@@'; apt-cache policy {q(name)} 2>/dev/null | "
                             "awk '/Candidate:/{print $2}'")
            del version
        if args.get("deb"):
            d = q(args["deb"])
            lines.append(f"echo '@@hostprep:deb@@'; p=$(dpkg-deb -f {d} Package) && v=$(dpkg-deb -f {d} Version) && "
                         "[ \"$(dpkg-query -W -f='${Status}|${Version}' \"$p\" 2>/dev/null)\" = "
                         "\"install ok installed|$v\" ] && echo installed || echo missing")
        lines.append("echo '@@hostprep:age@@'; echo $(( $(date +%s) - $(stat -c %Y /var/lib/apt/lists 2>/dev/null "
                     "|| echo 0) ))")
        return "\n".join(lines)

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        sec = sections(probe.stdout if probe else "")
        steps: list[Command] = []
        opts = "-y -q"
        if args.get("install_recommends") is not None:
            opts += " --install-recommends" if args["install_recommends"] else " --no-install-recommends"
        if args["force"]:
            opts += " --allow-downgrades --allow-remove-essential --allow-change-held-packages"
        elif args["allow_downgrade"]:
            opts += " --allow-downgrades"
        age = int((sec.get("age") or "999999").strip() or 999999)
        if args["update_cache"] and (not args["cache_valid_time"] or age > args["cache_valid_time"]):
            steps.append(Command(f"{ENV} apt-get update -q"))
        todo = []
        for i, spec in enumerate(args["name"]):
            status, _, have = sec.get(f"p{i}", "").strip().partition("|")
            installed = "install ok installed" in status
            name, _, version = spec.partition("=")
            if args["state"] == "absent":
                if installed:
                    todo.append(name)
            elif args["state"] == "latest":
                cand = sec.get(f"c{i}", "").strip()
                if not installed or (cand and cand != have and cand != "(none)"):
                    todo.append(name)
            elif not installed or (version and not have.startswith(version)):
                todo.append(spec)
        if todo:
            if args["state"] == "absent":
                steps.append(Command(f"{ENV} apt-get {opts} {'purge' if args['purge'] else 'remove'} "
                                     f"{' '.join(q(t) for t in todo)}"))
            else:
                steps.append(Command(f"{ENV} apt-get {opts} install {' '.join(q(t) for t in todo)}"))
        deb_needed = bool(args.get("deb")) and sec.get("deb", "").strip() != "installed"
        if deb_needed:
            steps.append(Command(f"{ENV} apt-get {opts} install {q(args['deb'])}"))
        if args.get("upgrade") not in (None, "no"):
            kinds = {"yes": "upgrade", "safe": "upgrade", "full": "dist-upgrade", "dist": "dist-upgrade"}
            kind = kinds[args["upgrade"]]
            steps.append(Command(f"{ENV} apt-get {opts} {kind}"))
        if args["autoremove"]:
            steps.append(Command(f"{ENV} apt-get {opts} autoremove"))
        changed = bool(todo) or deb_needed or args.get("upgrade") not in (None, "no")
        cache_only = len(steps) == 1 and steps[0].cmd.endswith("apt-get update -q")
        return Plan(changed or (bool(steps) and not cache_only), steps,
                    result={"packages": todo},
                    diff={"before": "", "after": "".join(f"{t}: {args['state']}\n" for t in todo)} if todo else None)
