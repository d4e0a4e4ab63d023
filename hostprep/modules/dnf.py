"""dnf (and yum): install, upgrade, downgrade and remove RPM packages, idempotently.

The probe asks rpm which of the wanted specs are installed (rpm -q understands NAME,
NAME-VERSION and NAME-VERSION-RELEASE) and, for state=latest, asks dnf check-update which have
updates; only the specs that need work are passed to dnf.
"""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q, sections

PKG_TOOL = 'PKG=$(command -v dnf || command -v yum || echo dnf)'


def _is_file_spec(spec: str) -> bool:
    return spec.endswith(".rpm")


class DnfModule(Module):
    name = "dnf"
    doc = ("Manage packages with dnf. state: present/installed, latest, absent/removed. `name: '*'` with "
           "state=latest updates the whole system (the guide's `yum update -y`); update_only limits latest to "
           "installed packages (e.g. `python*`).")
    examples = ("- dnf:\n    name: [docker-ce, docker-ce-cli, containerd.io]\n    state: present\n"
                "- dnf:\n    name: '*'\n    state: latest\n- dnf:\n    name: docker-ce-24.0.7\n"
                "    allow_downgrade: true\n")
    args = {
        "name": Arg("list", elements="str", aliases=("pkg",), default=[], doc="Package specs (name, name-version, "
                                                                               "name-version-release, .rpm paths)."),
        "state": Arg("str", choices=("absent", "present", "installed", "removed", "latest"),
                     doc="Default present (absent with autoremove and no name)."),
        "enablerepo": Arg("list", elements="str", default=[]),
        "disablerepo": Arg("list", elements="str", default=[]),
        "conf_file": Arg("path"),
        "disable_gpg_check": Arg("bool", default=False),
        "update_cache": Arg("bool", default=False, aliases=("expire-cache",)),
        "allow_downgrade": Arg("bool", default=False),
        "autoremove": Arg("bool", default=False),
        "exclude": Arg("list", elements="str", default=[]),
        "update_only": Arg("bool", default=False),
        "install_weak_deps": Arg("bool", default=True),
        "security": Arg("bool", default=False),
        "bugfix": Arg("bool", default=False),
        "releasever": Arg("str"),
        "installroot": Arg("path", default="/"),
        "download_only": Arg("bool", default=False),
        "allowerasing": Arg("bool", default=False),
        "nobest": Arg("bool"),
        "skip_broken": Arg("bool", default=False),
        "cacheonly": Arg("bool", default=False),
        "lock_timeout": Arg("int", default=30),
        "disable_plugin": Arg("list", elements="str", default=[]),
        "enable_plugin": Arg("list", elements="str", default=[]),
        "validate_certs": Arg("bool", default=True),
        "sslverify": Arg("bool", default=True),
    }

    def _state(self, args: dict[str, Any]) -> str:
        state = args.get("state") or ("absent" if args["autoremove"] and not args["name"] else "present")
        return {"installed": "present", "removed": "absent"}.get(state, state)

    def _options(self, args: dict[str, Any]) -> str:
        opts = ["-y"]
        opts += [f"--enablerepo={q(r)}" for r in args["enablerepo"]]
        opts += [f"--disablerepo={q(r)}" for r in args["disablerepo"]]
        if args.get("conf_file"):
            opts.append(f"-c {q(args['conf_file'])}")
        if args["disable_gpg_check"]:
            opts.append("--nogpgcheck")
        opts += [f"--exclude={q(e)}" for e in args["exclude"]]
        if not args["install_weak_deps"]:
            opts.append("--setopt=install_weak_deps=False")
        if args.get("releasever"):
            opts.append(f"--releasever={q(args['releasever'])}")
        if args["installroot"] != "/":
            opts.append(f"--installroot={q(args['installroot'])}")
        if args["security"]:
            opts.append("--security")
        if args["bugfix"]:
            opts.append("--bugfix")
        if args["download_only"]:
            opts.append("--downloadonly")
        if args["allowerasing"]:
            opts.append("--allowerasing")
        if args.get("nobest") is not None:
            opts.append(f"--setopt=best={'False' if args['nobest'] else 'True'}")
        if args["skip_broken"]:
            opts.append("--skip-broken")
        if args["cacheonly"]:
            opts.append("--cacheonly")
        opts += [f"--disableplugin={q(p)}" for p in args["disable_plugin"]]
        opts += [f"--enableplugin={q(p)}" for p in args["enable_plugin"]]
        if not (args["validate_certs"] and args["sslverify"]):
            opts.append("--setopt=sslverify=False")
        return " ".join(opts)

    def probe(self, args: dict[str, Any]) -> str | None:
        state = self._state(args)
        names = args["name"]
        root = f"--root {q(args['installroot'])} " if args["installroot"] != "/" else ""
        lines = [PKG_TOOL]
        for i, spec in enumerate(names):
            lines.append(f"echo '@@hostprep:pkg{i}@@'")
            if spec == "*":
                lines.append("echo installed")
            elif _is_file_spec(spec):
                lines.append(f"n=$(rpm -qp --qf '%{{NAME}}-%{{VERSION}}-%{{RELEASE}}' {q(spec)} 2>/dev/null) && "
                             f"rpm {root}-q \"$n\" >/dev/null 2>&1 && echo installed || echo missing")
            else:
                # removal matches package names only (a package that merely provides the name stays,
                # as with Ansible's dnf); installation is satisfied by a provider too
                provides = "" if state == "absent" else f" || rpm {root}-q --whatprovides {q(spec)} >/dev/null 2>&1"
                lines.append(f"if rpm {root}-q {q(spec)} >/dev/null 2>&1{provides}; then echo installed; "
                             "else echo missing; fi")
        if state == "latest":
            refresh = " --refresh" if args["update_cache"] else ""
            targets = " ".join(q(s) for s in names if s != "*")
            lines.append("echo '@@hostprep:updates@@'")
            lines.append(f"$PKG -q{refresh} {self._repo_opts(args)} check-update {targets} >/dev/null 2>&1; "
                         "echo \"rc=$?\"")
        return "\n".join(lines)

    def _repo_opts(self, args: dict[str, Any]) -> str:
        opts = [f"--enablerepo={q(r)}" for r in args["enablerepo"]]
        opts += [f"--disablerepo={q(r)}" for r in args["disablerepo"]]
        opts += [f"--exclude={q(e)}" for e in args["exclude"]]
        if args["disable_gpg_check"]:
            opts.append("--nogpgcheck")
        if args.get("releasever"):
            opts.append(f"--releasever={q(args['releasever'])}")
        if args["security"]:
            opts.append("--security")
        return " ".join(opts)

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        state = self._state(args)
        names = args["name"]
        sec = sections(probe.stdout if probe else "")
        installed = {spec: sec.get(f"pkg{i}", "").strip() == "installed" for i, spec in enumerate(names)}
        opts = self._options(args)
        refresh = "--refresh " if args["update_cache"] else ""
        steps: list[Command] = []
        results: list[str] = []
        before, after = [], []
        if state == "absent":
            if "*" in names:
                return Plan(failed=True, msg="refusing to remove every package ('*' with state=absent)")
            todo = [s for s in names if installed.get(s)]
            if todo:
                steps.append(Command(f"{PKG_TOOL}; $PKG {opts} remove {' '.join(q(s) for s in todo)}"))
                results += [f"Removed: {s}" for s in todo]
                before += [f"{s}: installed" for s in todo]
                after += [f"{s}: absent" for s in todo]
            if args["autoremove"]:
                steps.append(Command(f"{PKG_TOOL}; $PKG {opts} autoremove"))
        elif state == "present":
            todo = [s for s in names if not installed.get(s)]
            if todo:
                verb = "install"
                cmd = f"{PKG_TOOL}; $PKG {refresh}{opts} {verb} {' '.join(q(s) for s in todo)}"
                if args["allow_downgrade"]:
                    # a pinned older version: dnf install leaves a newer one in place, dnf downgrade does it
                    specs = " ".join(q(s) for s in todo)
                    cmd = (f"{PKG_TOOL}; $PKG {refresh}{opts} install {specs} || exit $?; for s in {specs}; do "
                           f"rpm -q \"$s\" >/dev/null 2>&1 || $PKG {opts} downgrade \"$s\" || exit $?; done")
                steps.append(Command(cmd))
                results += [f"Installed: {s}" for s in todo]
                before += [f"{s}: absent" for s in todo]
                after += [f"{s}: installed" for s in todo]
        else:  # latest
            rc_line = sec.get("updates", "").strip()
            has_updates = rc_line == "rc=100"
            missing = [s for s in names if not installed.get(s) and s != "*" and "*" not in s]
            if args["update_only"]:
                missing = []
            if "*" in names:
                if has_updates:
                    steps.append(Command(f"{PKG_TOOL}; $PKG {refresh}{opts} upgrade"))
                    results.append("Upgraded the system")
                    before.append("*: updates available")
                    after.append("*: up to date")
            else:
                if missing:
                    steps.append(Command(f"{PKG_TOOL}; $PKG {refresh}{opts} install "
                                         f"{' '.join(q(s) for s in missing)}"))
                    results += [f"Installed: {s}" for s in missing]
                    before += [f"{s}: absent" for s in missing]
                    after += [f"{s}: latest" for s in missing]
                upgradable = [s for s in names if s not in missing]
                if has_updates and upgradable:
                    steps.append(Command(f"{PKG_TOOL}; $PKG {refresh}{opts} upgrade "
                                         f"{' '.join(q(s) for s in upgradable)}"))
                    results += [f"Upgraded: {s}" for s in upgradable]
                    before += [f"{s}: update available" for s in upgradable]
                    after += [f"{s}: latest" for s in upgradable]
        diff = {"before": "\n".join(before) + ("\n" if before else ""),
                "after": "\n".join(after) + ("\n" if after else "")} if steps else None
        msg = "Nothing to do" if not steps else ""
        return Plan(bool(steps), steps, diff=diff, msg=msg, result={"results": results, "rc": 0})

    def finish(self, args: dict[str, Any], plan: Plan, outputs: list, ctx: TaskContext) -> dict:
        result = dict(plan.result)
        if outputs:
            last = outputs[-1]
            result["rc"] = last.rc
            result["stdout"] = last.stdout
            if last.rc != 0:
                result["msg"] = last.stderr.strip() or last.stdout.strip()[-2000:]
        return result


class YumModule(DnfModule):
    name = "yum"
    doc = "Manage packages the yum way; runs dnf where the host has it (EL8+), yum otherwise (EL7)."
    examples = "- yum:\n    name: [yum-utils, device-mapper-persistent-data, lvm2]\n    state: present\n"
    args = {**DnfModule.args, "use_backend": Arg("str", default="auto", choices=("auto", "yum", "yum4", "dnf"))}
