"""apt: Debian/Ubuntu packages (dpkg-query probe, apt-get to change)."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q, sections

ENV = "DEBIAN_FRONTEND=noninteractive"
UPGRADES = {"yes": "upgrade", "safe": "upgrade", "full": "dist-upgrade", "dist": "dist-upgrade"}


def count(text: str) -> int:
    """A `grep -c` answer from a probe section (0 when missing)."""
    text = text.strip()
    return int(text) if text.isdigit() else 0


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
            name = spec.partition("=")[0]
            lines.append(f"echo '@@hostprep:p{i}@@'; dpkg-query -W -f='${{Status}}|${{Version}}\\n' {q(name)} "
                         "2>/dev/null")
            if args["state"] == "latest":
                lines.append(f"echo '@@hostprep:c{i}@@'; apt-cache policy {q(name)} 2>/dev/null | "
                             "awk '/Candidate:/{print $2}'")
        if args.get("deb"):
            d = q(args["deb"])
            lines.append(f"echo '@@hostprep:deb@@'; p=$(dpkg-deb -f {d} Package) && v=$(dpkg-deb -f {d} Version) && "
                         "[ \"$(dpkg-query -W -f='${Status}|${Version}' \"$p\" 2>/dev/null)\" = "
                         "\"install ok installed|$v\" ] && echo installed || echo missing")
        if args.get("upgrade") not in (None, "no"):
            lines.append(f"echo '@@hostprep:upgrade@@'; apt-get -s {UPGRADES[args['upgrade']]} 2>/dev/null "
                         "| grep -c '^Inst '")
        if args["autoremove"]:
            lines.append("echo '@@hostprep:autoremove@@'; apt-get -s autoremove 2>/dev/null | grep -c '^Remv '")
        return "\n".join(lines) if lines else None

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: ProbeResult | None = None) -> dict[str, Any]:
        """Refresh the package lists first (not a change, as in Ansible), then probe and plan with them."""
        updated = False
        if args["update_cache"] and not ctx.check_mode:
            valid = args["cache_valid_time"]
            script = (f"age=$(( $(date +%s) - $(stat -c %Y /var/cache/apt/pkgcache.bin 2>/dev/null || echo 0) )); "
                      f"if [ {valid} -eq 0 ] || [ \"$age\" -gt {valid} ]; then {ENV} apt-get update -q >&2 && "
                      "echo updated; fi")
            res = ctx.run(script)
            if res.rc != 0:
                return {"failed": True, "changed": False, "msg": f"apt-get update failed: {res.stderr.strip()[-2000:]}"}
            updated = "updated" in res.stdout
            probe = None
        result = super().run(args, ctx, probe)
        result["cache_updated"] = updated
        return result

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
        upgrades = count(sec.get("upgrade", "")) if args.get("upgrade") not in (None, "no") else 0
        if upgrades:
            steps.append(Command(f"{ENV} apt-get {opts} {UPGRADES[args['upgrade']]}"))
        removable = count(sec.get("autoremove", "")) if args["autoremove"] else 0
        if args["autoremove"] and (removable or (todo and args["state"] == "absent")):
            steps.append(Command(f"{ENV} apt-get {opts} autoremove"))
        changed = bool(todo) or deb_needed or bool(upgrades) or bool(removable)
        return Plan(changed, steps,
                    result={"packages": todo},
                    diff={"before": "", "after": "".join(f"{t}: {args['state']}\n" for t in todo)} if todo else None)
