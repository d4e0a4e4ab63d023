"""pip: Python packages into the system Python or a virtualenv, idempotently (pip freeze probe)."""

from __future__ import annotations

import json
import re
import shlex
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

    gives_diff = False  # Ansible's pip has no diff support: --diff shows and registers none
    reports_rc = False  # a failing pip: cmd and msg (its output), no rc

    def _pip(self, args: dict[str, Any]) -> str:
        """The shell words of the pip the probe runs (a virtualenv's, the executable, else "$@" set by the probe)."""
        if args.get("virtualenv"):
            return f"{q(args['virtualenv'])}/bin/pip"
        if args.get("executable"):
            return q(args["executable"])
        return '"$@"'

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
        elif not args.get("executable"):
            # as Ansible's: the interpreter's own pip module when it has one (python3 -m pip), else pip3
            lines.append(PICK_PIP)
        lines.append(f"echo '@@hostprep:freeze@@'; {self._pip(args)} list --format=freeze 2>/dev/null")
        if args.get("requirements"):
            base = f"cd {q(args['chdir'])} && " if args.get("chdir") else ""
            lines.append(f"echo '@@hostprep:requirements@@'; ({base}cat {q(args['requirements'])}) 2>/dev/null")
        if args["state"] == "latest":
            lines.append(f"echo '@@hostprep:outdated@@'; {self._pip(args)} list --outdated --format=json "
                         f"{args.get('extra_args') or ''} 2>/dev/null")
        return "\n".join(lines)

    def _argv(self, args: dict[str, Any], sec: dict[str, str], ctx: TaskContext) -> list[str]:
        """The pip command as Ansible reports it in `cmd`: [python, -m, pip], the executable or the venv's pip3."""
        if args.get("virtualenv"):
            return [f"{args['virtualenv']}/bin/pip3"]
        if args.get("executable"):
            return [args["executable"]]
        argv = sec.get("pip", "").splitlines() or ["pip3"]
        interpreter = (ctx.variables or {}).get("ansible_python_interpreter")
        if len(argv) == 3 and isinstance(interpreter, str) and interpreter and "{{" not in interpreter:
            argv[0] = interpreter  # Ansible's sys.executable: the interpreter it was told to use
        return argv

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
        state = args["state"]
        if state == "latest" and args.get("version") is not None:
            return Plan(failed=True, msg="version is incompatible with state=latest")
        argv = self._argv(args, sec, ctx)
        verb = {"present": ["install"], "absent": ["uninstall", "-y"], "latest": ["install", "-U"],
                "forcereinstall": ["install", "-U", "--force-reinstall"]}[state]
        extra_words = shlex.split(args["extra_args"]) if args.get("extra_args") else []
        if args["editable"] and "-e" not in extra_words:
            extra_words.append("-e")
        wanted = list(args["name"]) if not args.get("name") or not args.get("version") else self._specs(args)
        cmd = [*argv, *verb, *extra_words, *(wanted if args.get("name") else ["-r", args["requirements"]])]
        steps: list[Command] = []
        venv = args.get("virtualenv")
        # Ansible's pip runs in chdir, else in the temporary directory (pip's messages name paths from there)
        prefix = f"cd {q(args['chdir'])} && " if args.get("chdir") else 'cd "${TMPDIR:-/tmp}" && '
        if args.get("umask"):
            prefix = f"umask {args['umask']} && {prefix}"
        venv_missing = bool(venv) and sec.get("venv", "").strip() != "yes"
        if ctx.check_mode:
            # Ansible's check mode: changed without looking when it cannot tell (extra_args, requirements,
            # latest), else whether a name is missing (present) or there (absent), with the freeze it read
            if args.get("extra_args") or args.get("requirements") or state == "latest" or not args.get("name"):
                return Plan(True, result={})
            if state == "absent":
                todo = [s for s in specs if spec_name(s) in installed]
            else:
                todo = [s for s in specs if not satisfied(s, installed)]
            freeze = " ".join([*argv, "list", "--format=freeze"])
            stdout = sec.get("freeze", "")
            return Plan(bool(todo) or venv_missing, result={"cmd": freeze, "stdout": stdout, "stderr": "",
                                                            "stdout_lines": stdout.splitlines(), "stderr_lines": []})
        if venv_missing:
            vcmd = args["virtualenv_command"]
            opts = " --system-site-packages" if args["virtualenv_site_packages"] else ""
            if args.get("virtualenv_python") and "venv" not in vcmd:
                opts += f" -p {q(args['virtualenv_python'])}"
            steps.append(Command(f"{prefix}{vcmd}{opts} {q(venv)}"))
            installed = {}
        extra = f" {args['extra_args']}" if args.get("extra_args") else ""
        if args["break_system_packages"]:
            extra += " --break-system-packages"
        pip = " ".join(q(w) for w in argv)
        if venv:
            pip = f"{q(venv)}/bin/pip"
        result = {"cmd": cmd, "name": args.get("name"), "version": args.get("version"), "state": state,
                  "requirements": args.get("requirements"), "virtualenv": venv, "stdout": "", "stderr": "",
                  "stdout_lines": [], "stderr_lines": []}
        every = " ".join(q(s) for s in specs)
        if state == "absent":
            if any(spec_name(s) in installed for s in specs):
                names = " ".join(q(str(spec_name(s) or s)) for s in specs)
                steps.append(Command(f"{prefix}{pip} uninstall -y{extra} {names}"))
        elif state == "forcereinstall":
            steps.append(Command(f"{prefix}{pip} install -U --force-reinstall{extra} {every}"))
        elif state == "latest":
            outdated = parse_outdated(sec.get("outdated", ""))
            if any(spec_name(s) not in installed or spec_name(s) in outdated for s in specs):
                steps.append(Command(f"{prefix}{pip} install -U{extra} {every}"))
        elif args.get("requirements") and not args.get("name"):
            if any(not satisfied(s, installed) for s in specs):
                steps.append(Command(f"{prefix}{pip} install{extra} -r {q(args['requirements'])}"))
        elif any(not satisfied(s, installed) for s in specs):
            edit = "-e " if args["editable"] else ""
            steps.append(Command(f"{prefix}{pip} install{extra} {edit}{every}"))
        diff = None
        if steps:
            names = [(s, spec_name(s)) for s in specs]
            diff = {"before": "".join(f"{n or s}: {installed.get(n or '', 'absent')}\n" for s, n in names),
                    "after": "".join(f"{n or s}: {_wanted(s, state)}\n" for s, n in names)}
        return Plan(bool(steps), steps, diff=diff, result=result)

    def finish(self, args: dict[str, Any], plan: Plan, outputs: list, ctx: TaskContext) -> dict:
        """Ansible's result: pip's output as stdout/stderr; changed when pip says it installed or uninstalled
        something (or a virtualenv was made); a failing pip's output in msg as Ansible words it."""
        result = dict(plan.result)
        if not outputs or ctx.check_mode:
            return result
        result["stdout"] = "".join(o.stdout for o in outputs)
        result["stderr"] = "".join(o.stderr for o in outputs)
        result.update(stdout_lines=result["stdout"].splitlines(), stderr_lines=result["stderr"].splitlines())
        last = outputs[-1]
        if last.rc != 0:
            msg = f"stdout: {result['stdout']}" if result["stdout"] else ""
            if result["stderr"]:
                msg += f"\n:stderr: {result['stderr']}"
            return {"cmd": result["cmd"], "msg": msg}
        said = "Successfully uninstalled" if args["state"] == "absent" else "Successfully installed"
        venv_made = bool(args.get("virtualenv")) and len(outputs) > 1
        result["_changed"] = said in last.stdout or venv_made
        return result


# the pip Ansible's module picks without executable or virtualenv: the interpreter's pip module if it has one
PICK_PIP = r"""py=$(command -v python3 || command -v python)
if [ -n "$py" ] && "$py" -c 'import pip' >/dev/null 2>&1; then set -- "$py" -m pip
else set -- "$(command -v pip3 || echo pip3)"; fi
echo '@@hostprep:pip@@'; printf '%s\n' "$@"
"""
