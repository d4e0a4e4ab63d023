"""pip: Python packages into the system Python or a virtualenv, idempotently (pip freeze probe)."""

from __future__ import annotations

import json
import re
from typing import Any

from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q, sections

_SPEC = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def spec_name(spec: str) -> str | None:
    """The canonical project name of a requirement specifier (None for paths and URLs)."""
    if "/" in spec or spec.startswith("."):
        return None
    m = _SPEC.match(spec)
    return canonical(m.group(1)) if m else None


def _wanted(spec: str, state: str) -> str:
    """How the diff shows the wanted state: absent, the specifier (pkg>=1) or present/latest."""
    if state == "absent":
        return "absent"
    return spec if re.search(r"[<>=!~]", spec) else state


def satisfied(spec: str, installed: dict[str, str]) -> bool:
    m = _SPEC.match(spec)
    if not m:
        return False
    name, rest = canonical(m.group(1)), m.group(3).strip()
    if name not in installed:
        return False
    if not rest:
        return True
    from hostprep.templating.versions import compare_padded as compare_versions

    have = installed[name]
    for clause in rest.split(","):
        clause = clause.strip()
        op = re.match(r"(===|==|!=|~=|>=|<=|>|<)\s*(.+)", clause)
        if not op:
            return False
        symbol, version = op.groups()
        if symbol in ("==", "==="):
            if version.endswith(".*"):
                if not have.startswith(version[:-2]):
                    return False
            elif not compare_versions(have, version, "eq"):
                return False
        elif symbol == "~=":
            prefix = version.rsplit(".", 1)[0]
            if not (compare_versions(have, version, "ge") and have.startswith(prefix)):
                return False
        elif not compare_versions(have, version, {"!=": "ne", ">=": "ge", "<=": "le", ">": "gt", "<": "lt"}[symbol]):
            return False
    return True


def parse_outdated(text: str) -> set[str]:
    """Canonical names from `pip list --outdated --format=json` (freeze format refuses --outdated)."""
    try:
        rows = json.loads(text.strip() or "[]")
    except json.JSONDecodeError:
        return set()
    return {canonical(row["name"]) for row in rows if isinstance(row, dict) and "name" in row}


class PipModule(Module):
    name = "pip"
    doc = "Install, upgrade or remove Python packages with pip, optionally in a virtualenv it creates."
    examples = ("- pip:\n    name: docker-compose\n    executable: pip3\n"
                "- pip:\n    name: [requests>=2.31]\n    virtualenv: /opt/tools\n"
                "    virtualenv_command: python3 -m venv\n")
    args = {
        "name": Arg("list", elements="str"),
        "version": Arg("str"),
        "requirements": Arg("str"),
        "virtualenv": Arg("path"),
        "virtualenv_command": Arg("str", default="virtualenv"),
        "virtualenv_python": Arg("str"),
        "virtualenv_site_packages": Arg("bool", default=False),
        "executable": Arg("path"),
        "state": Arg("str", default="present", choices=("present", "latest", "absent", "forcereinstall")),
        "extra_args": Arg("str"),
        "chdir": Arg("path"),
        "editable": Arg("bool", default=False),
        "umask": Arg("str"),
        "break_system_packages": Arg("bool", default=False),
    }
    mutually_exclusive = (("name", "requirements"), ("executable", "virtualenv"))
    required_one_of = (("name", "requirements"),)

    def _pip(self, args: dict[str, Any]) -> str:
        if args.get("virtualenv"):
            return f"{q(args['virtualenv'])}/bin/pip"
        if args.get("executable"):
            return q(args["executable"])
        return "$(command -v pip3 || command -v pip || echo pip3)"

    def _specs(self, args: dict[str, Any]) -> list[str]:
        names = list(args.get("name") or [])
        if args.get("version") and len(names) == 1:
            names = [f"{names[0]}=={args['version']}"]
        return names

    def probe(self, args: dict[str, Any]) -> str | None:
        venv = args.get("virtualenv")
        lines = []
        if venv:
            lines.append(f"echo '@@hostprep:venv@@'; [ -x {q(venv)}/bin/pip ] && echo yes || echo no")
        lines.append(f"echo '@@hostprep:freeze@@'; {self._pip(args)} list --format=freeze 2>/dev/null")
        if args.get("requirements"):
            base = f"cd {q(args['chdir'])} && " if args.get("chdir") else ""
            lines.append(f"echo '@@hostprep:requirements@@'; ({base}cat {q(args['requirements'])}) 2>/dev/null")
        if args["state"] == "latest":
            lines.append(f"echo '@@hostprep:outdated@@'; {self._pip(args)} list --outdated --format=json "
                         f"{args.get('extra_args') or ''} 2>/dev/null")
        return "\n".join(lines)

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        sec = sections(probe.stdout if probe else "")
        installed = {}
        for line in sec.get("freeze", "").splitlines():
            if "==" in line:
                n, v = line.split("==", 1)
                installed[canonical(n)] = v.strip()
        specs = self._specs(args)
        if args.get("requirements"):
            specs = [line.split("#")[0].strip() for line in sec.get("requirements", "").splitlines()
                     if line.strip() and not line.strip().startswith(("#", "-"))]
        steps: list[Command] = []
        venv = args.get("virtualenv")
        prefix = f"cd {q(args['chdir'])} && " if args.get("chdir") else ""
        if args.get("umask"):
            prefix = f"umask {args['umask']} && {prefix}"
        venv_missing = bool(venv) and sec.get("venv", "").strip() != "yes"
        if venv_missing:
            cmd = args["virtualenv_command"]
            opts = " --system-site-packages" if args["virtualenv_site_packages"] else ""
            if args.get("virtualenv_python") and "venv" not in cmd:
                opts += f" -p {q(args['virtualenv_python'])}"
            steps.append(Command(f"{prefix}{cmd}{opts} {q(venv)}"))
            installed = {}
        extra = f" {args['extra_args']}" if args.get("extra_args") else ""
        if args["break_system_packages"]:
            extra += " --break-system-packages"
        pip = self._pip(args)
        state = args["state"]
        result = {"name": specs, "state": state, "virtualenv": venv}
        if state == "absent":
            todo = [s for s in specs if spec_name(s) in installed]
            if todo:
                names = " ".join(q(str(spec_name(s))) for s in todo)
                steps.append(Command(f"{prefix}{pip} uninstall -y{extra} {names}"))
        elif state == "forcereinstall":
            steps.append(Command(f"{prefix}{pip} install --force-reinstall{extra} {' '.join(q(s) for s in specs)}"))
        elif state == "latest":
            outdated = parse_outdated(sec.get("outdated", ""))
            todo = [s for s in specs if spec_name(s) not in installed or spec_name(s) in outdated]
            if todo:
                steps.append(Command(f"{prefix}{pip} install -U{extra} {' '.join(q(s) for s in todo)}"))
        else:
            if args.get("requirements") and not args.get("name"):
                todo = [s for s in specs if not satisfied(s, installed)]
                if todo:
                    steps.append(Command(f"{prefix}{pip} install{extra} -r {q(args['requirements'])}"))
            else:
                todo = [s for s in specs if not satisfied(s, installed)]
                if todo:
                    edit = "-e " if args["editable"] else ""
                    steps.append(Command(f"{prefix}{pip} install{extra} {edit}{' '.join(q(s) for s in todo)}"))
        diff = None
        if steps:
            names = [(s, spec_name(s)) for s in specs]
            diff = {"before": "".join(f"{n or s}: {installed.get(n or '', 'absent')}\n" for s, n in names),
                    "after": "".join(f"{n or s}: {_wanted(s, state)}\n" for s, n in names)}
        return Plan(bool(steps), steps, diff=diff, result=result)
