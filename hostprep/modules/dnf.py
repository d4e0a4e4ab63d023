"""dnf: install, upgrade, downgrade and remove RPM packages, idempotently and without Python on the host.

The probe prints, for each wanted spec, the installed packages rpm matches and (when they
matter) the newest candidate the repositories offer plus the installed versions of that
candidate's name, all as `NAME E:V-R.ARCH` lines. The plan compares those versions with
rpm's rules (hostprep.modules._sysrpm), so `--diff` can say `docker-ce: absent` ->
`docker-ce: 3:24.0.7-1.el9` and check mode reports exactly what a real run would change.
"""

from __future__ import annotations

import re
from typing import Any

from hostprep.modules._sysrpm import (
    REPOQUERY_QF,
    RPM_QF,
    Nevra,
    PackageSpec,
    newest,
    parse_check_update,
    parse_nevras,
    updates_for,
)
from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import once_per_batch, q, sections

NOT_FOUND = "No package matching '{}' found available, installed or updated"
# Ansible's dnf: what a failed transaction says, and how it names a spec no repository has
FAILED_INSTALL = "Failed to install some of the specified packages"
NO_PACKAGE = "No package {} available."
# the sections of dnf's closing summary (LC_ALL=C): the packages the transaction installed or removed
_SUMMARY = re.compile(r"^(Installed|Upgraded|Downgraded|Reinstalled|Removed|Obsoleted):\s*$")


def _bare_name(spec: PackageSpec) -> bool:
    """A plain spec that can only be a package name (or name.arch): no `-<digit>` part, so no version.

    For such a spec with nothing installed under it, `dnf install SPEC` is the whole decision: dnf
    installs the newest candidate or says there is none (the probe needs no candidate, see
    DnfModule._spec_probe)."""
    return spec.kind == "plain" and not any(part[:1].isdigit() for part in spec.raw.split("-")[1:])


def transaction_packages(stdout: str) -> list[tuple[str, str]] | None:
    """(verb, package) from the closing summary of dnf's (or yum's) output, None when there is none.

    dnf prints, after a transaction, `Installed:` / `Upgraded:` / `Removed:` ... each followed by
    indented package names (name-[epoch:]version-release.arch, several to a line when they fit),
    then `Complete!`. "Nothing to do." has no summary: an empty list.
    """
    if "Nothing to do" in stdout and "Complete!" in stdout and not _SUMMARY.search(stdout.replace("\r", "")):
        return []
    out: list[tuple[str, str]] = []
    verb = None
    seen = False
    for line in stdout.splitlines():
        head = _SUMMARY.match(line.rstrip())
        if head:
            verb, seen = head.group(1), True
            continue
        if verb is None:
            continue
        if not line.startswith(" ") or not line.strip():
            verb = None
            continue
        out += [(verb, word) for word in line.split()]
    return out if seen else None


def _installed_cmd(root: str, word: str) -> str:
    """rpm lines of the installed packages named by shell word `word` (e.g. "$_hp_n")."""
    return f"LC_ALL=C rpm {root}-q --qf \"$_hp_qf\" {word} 2>/dev/null | grep -v ' is not installed$'"


# rpm answers `rpm -q A B C` in the order asked; a name no package has between two specs marks
# where one spec's answer ends, so one rpm run serves every spec of a task (rpm costs ~8 ms a run).
SEPARATOR = "hostprep-probe-separator"
NAMED = ("plain", "relation")  # the spec kinds rpm is asked about by name


def _installed_all_cmd(root: str, queries: list[str]) -> str:
    """Shell that sets $_hp_all to rpm's answers for all `queries`, separated by SEPARATOR lines."""
    words = f" {SEPARATOR} ".join(q(x) for x in queries)
    return f"_hp_all=$(LC_ALL=C rpm {root}-q --qf \"$_hp_qf\" {words} 2>/dev/null)"


def _installed_nth(n: int) -> str:
    """Shell printing the installed packages rpm found for the n-th query of `_installed_all_cmd`."""
    return (f"printf '%s\\n' \"$_hp_all\" | awk -v n={n} "
            f"'$0 == \"package {SEPARATOR} is not installed\" {{ s++; next }} "
            "s == n && !/ is not installed$/'")


def enablerepo_opts(pattern: str) -> str:
    """`--enablerepo=ID` for each configured repository the pattern matches, and nothing when none does: Ansible's
    dnf enables the repositories a pattern matches (fnmatch) and ignores one that matches none, where the dnf
    command fails ("Unknown repo"). Roles pass `enablerepo: epel` for packages the base repositories have too.
    The repository ids are the sections of /etc/yum.repos.d/*.repo (yum 3, dnf 4 and dnf 5 alike)."""
    glob = pattern if re.fullmatch(r"[A-Za-z0-9_.:@+*?\[\]!-]+", pattern) else q(pattern)
    ids = r"sed -n 's/^[[:space:]]*\[\([^]]*\)\][[:space:]]*$/\1/p' /etc/yum.repos.d/*.repo 2>/dev/null"
    return f"$(for _hp_r in $({ids}); do case $_hp_r in {glob}) echo \"--enablerepo=$_hp_r\";; esac; done)"


class DnfModule(Module):
    name = "dnf"
    doc = ("Manage packages with dnf. state: present/installed, latest, absent/removed. name takes names, "
           "name-version[-release], name-epoch:version-release, `name >= version`, globs, local .rpm paths and "
           ".rpm URLs. `name: '*'` with state=latest updates the whole system (the guide's `yum update -y`); "
           "update_only limits latest to packages already installed.")
    examples = ("- dnf:\n    name: [docker-ce, docker-ce-cli, containerd.io]\n    state: present\n"
                "- dnf:\n    name: '*'\n    state: latest\n- dnf:\n    name: docker-ce-3:24.0.7-1.el9\n"
                "    allow_downgrade: true\n")
    args = {
        "name": Arg("list", elements="str", aliases=("pkg",), default=[],
                    doc="Package specs (name, name-version, name-epoch:version-release, 'name >= 1.2', .rpm)."),
        "state": Arg("str", choices=("absent", "present", "installed", "removed", "latest"),
                     doc="Default present (absent with autoremove and no name)."),
        "enablerepo": Arg("list", elements="str", default=[]),
        "disablerepo": Arg("list", elements="str", default=[]),
        "conf_file": Arg("str"),
        "disable_gpg_check": Arg("bool", default=False),
        "disable_excludes": Arg("str"),
        "update_cache": Arg("bool", default=False, aliases=("expire-cache",)),
        "allow_downgrade": Arg("bool", default=False),
        "autoremove": Arg("bool", default=False),
        "exclude": Arg("list", elements="str", default=[]),
        "update_only": Arg("bool", default=False),
        "install_weak_deps": Arg("bool", default=True),
        "security": Arg("bool", default=False),
        "bugfix": Arg("bool", default=False),
        "releasever": Arg("str"),
        "installroot": Arg("str", default="/"),
        "download_only": Arg("bool", default=False),
        "download_dir": Arg("str"),
        "allowerasing": Arg("bool", default=False),
        "nobest": Arg("bool"),
        "skip_broken": Arg("bool", default=False),
        "cacheonly": Arg("bool", default=False),
        "lock_timeout": Arg("int", default=30, doc="Accepted for compatibility: dnf waits for its own lock."),
        "disable_plugin": Arg("list", elements="str", default=[]),
        "enable_plugin": Arg("list", elements="str", default=[]),
        "validate_certs": Arg("bool", default=True),
        "sslverify": Arg("bool", default=True),
    }

    # -- the package tool --------------------------------------------------------------
    def tool(self, args: dict[str, Any]) -> str:
        """Shell that sets $_hp_pkg to the package manager this module drives."""
        return "_hp_pkg=$(command -v dnf || command -v yum || echo dnf)"

    def _state(self, args: dict[str, Any]) -> str:
        state = args.get("state") or ("absent" if args["autoremove"] and not args["name"] else "present")
        return {"installed": "present", "removed": "absent"}.get(state, state)

    def _root(self, args: dict[str, Any]) -> str:
        return f"--root {q(args['installroot'])} " if args["installroot"] != "/" else ""

    def _repo_opts(self, args: dict[str, Any], exclude: bool = True) -> list[str]:
        """Options that change what the repositories offer (used by probe and change alike).

        `exclude=False` leaves out the task's own `exclude` (the shared list of updates is
        filtered by it here instead)."""
        opts = [enablerepo_opts(r) for r in args["enablerepo"]]
        opts += [f"--disablerepo={q(r)}" for r in args["disablerepo"]]
        if exclude:
            opts += [f"--exclude={q(e)}" for e in args["exclude"]]
        if args.get("disable_excludes"):
            opts.append(f"--disableexcludes={q(args['disable_excludes'])}")
        if args.get("conf_file"):
            opts.append(f"-c {q(args['conf_file'])}")
        if args.get("releasever"):
            opts.append(f"--releasever={q(args['releasever'])}")
        if args["installroot"] != "/":
            opts.append(f"--installroot={q(args['installroot'])}")
        if args["cacheonly"]:
            opts.append("--cacheonly")
        opts += [f"--disableplugin={q(p)}" for p in args["disable_plugin"]]
        opts += [f"--enableplugin={q(p)}" for p in args["enable_plugin"]]
        if not (args["validate_certs"] and args["sslverify"]):
            opts.append("--setopt=sslverify=False")
        return opts

    def _options(self, args: dict[str, Any]) -> str:
        opts = ["-y", *self._repo_opts(args)]
        if args["update_cache"]:
            opts.append("--refresh")
        if args["disable_gpg_check"]:
            opts.append("--nogpgcheck")
        if not args["install_weak_deps"]:
            opts.append("--setopt=install_weak_deps=False")
        if args["security"]:
            opts.append("--security")
        if args["bugfix"]:
            opts.append("--bugfix")
        if args["download_only"]:
            opts.append("--downloadonly")
            if args.get("download_dir"):
                opts.append(f"--downloaddir={q(args['download_dir'])}")
        if args["allowerasing"]:
            opts.append("--allowerasing")
        if args.get("nobest") is not None:
            opts.append(f"--setopt=best={'False' if args['nobest'] else 'True'}")
        if args["skip_broken"]:
            opts.append("--skip-broken")
        return " ".join(opts)

    # -- probe ---------------------------------------------------------------------------
    def _repoquery(self, args: dict[str, Any], spec: PackageSpec) -> str:
        """Newest available packages for a spec; dnf repoquery, or yum-utils' repoquery on yum hosts."""
        refresh = " --refresh" if args["update_cache"] else ""
        target = f"--whatprovides {q(spec.raw)}" if spec.kind == "relation" else q(spec.raw)
        repo = " ".join(self._repo_opts(args))
        return (f"if [ \"${{_hp_pkg##*/}}\" = dnf ]; then \"$_hp_pkg\" -q{refresh} {repo} repoquery --latest-limit 1 "
                f"--qf '{REPOQUERY_QF}' {target}; else repoquery -q {repo} --qf '{REPOQUERY_QF}' {target}; fi")

    def _spec_probe(self, args: dict[str, Any], i: int, spec: PackageSpec, state: str, nth: int) -> list[str]:
        """The probe of one spec; plain and relation specs read answer `nth` of the task's one rpm run."""
        root = self._root(args)
        lines: list[str] = []
        if spec.raw == "*":
            return lines
        if spec.kind in ("file", "url"):
            fetch = f"_hp_f={q(spec.raw)}"
            if spec.kind == "url":
                insecure = "" if args["validate_certs"] else "-k "
                fetch = f"_hp_f=$(mktemp); curl -fsSL {insecure}{q(spec.raw)} -o \"$_hp_f\""
            lines += [
                f"echo '@@hostprep:cand{i}@@'",
                f"{fetch}; rpm -qp --nosignature --qf \"$_hp_qf\" \"$_hp_f\" 2>/dev/null; echo \"rc=$?\"",
                f"echo '@@hostprep:have{i}@@'",
                "_hp_n=$(rpm -qp --nosignature --qf '%{NAME}' \"$_hp_f\" 2>/dev/null) && " +
                _installed_cmd(root, '"$_hp_n"'),
            ]
            if spec.kind == "url":
                lines.append("rm -f \"$_hp_f\"")
            return lines
        if spec.kind == "glob":
            lines += [f"echo '@@hostprep:pkg{i}@@'",
                      f"rpm {root}-qa --qf \"$_hp_qf\" {q(spec.raw)} 2>/dev/null"]
            return lines
        lines.append(f"_hp_i=$({_installed_nth(nth)})")
        if state != "absent" and spec.kind == "plain":  # not installed by that name: what provides it?
            lines.append(f"[ -n \"$_hp_i\" ] || _hp_i=$(LC_ALL=C rpm {root}-q --whatprovides --qf \"$_hp_qf\" "
                         f"{q(spec.raw)} 2>/dev/null | grep -v '^no package provides')")
        lines += [f"echo '@@hostprep:pkg{i}@@'", "[ -n \"$_hp_i\" ] && printf '%s\\n' \"$_hp_i\""]
        if state == "absent":
            return lines
        # a candidate is needed for latest, for relations, and when nothing installed matches; not for a
        # bare name that is missing: then the install itself decides (one dnf run, not a query and a run)
        if state == "present" and _bare_name(spec):
            return lines
        cond = "true" if state == "latest" or spec.kind == "relation" else "[ -z \"$_hp_i\" ]"
        return lines + [f"if {cond}; then", *self._candidate_lines(args, i, spec), "fi"]

    def _candidate_lines(self, args: dict[str, Any], i: int, spec: PackageSpec) -> list[str]:
        """Shell printing spec i's newest candidate (section cand<i>) and what is installed of its name (have<i>)."""
        return [
            f"echo '@@hostprep:cand{i}@@'; _hp_c=$({self._repoquery(args, spec)} 2>/dev/null); _hp_rc=$?",
            "[ -n \"$_hp_c\" ] && printf '%s\\n' \"$_hp_c\"; echo \"rc=$_hp_rc\"",
            f"echo '@@hostprep:have{i}@@'",
            "for _hp_n in $(printf '%s\\n' \"$_hp_c\" | cut -d' ' -f1 | sort -u); do "
            + _installed_cmd(self._root(args), '"$_hp_n"') + "; done",
        ]

    def _ask_candidate(self, args: dict[str, Any], i: int, spec: PackageSpec, ctx: TaskContext) -> dict[str, str]:
        """The candidate sections of a spec whose probe left them to the install (asked in check mode only)."""
        snippet = "\n".join([self.tool(args), f"_hp_qf='{RPM_QF}'", *self._candidate_lines(args, i, spec)])
        return sections(ctx.probe(snippet).stdout)

    def probe(self, args: dict[str, Any]) -> str | None:
        state = self._state(args)
        specs = [PackageSpec.parse(s) for s in args["name"]]
        lines = [self.tool(args), f"_hp_qf='{RPM_QF}'"]
        named = [s.name if s.kind == "relation" else s.raw for s in specs if s.kind in NAMED]
        if named:
            lines.append(_installed_all_cmd(self._root(args), named))
        nth = 0
        for i, spec in enumerate(specs):
            lines += self._spec_probe(args, i, spec, state, nth)
            nth += spec.kind in NAMED
        if state == "latest" and any(s.kind == "glob" for s in specs):
            lines += ["echo '@@hostprep:updates@@'", once_per_batch(self._updates_cmd(args))]
        if state == "absent" and args["autoremove"]:
            lines += ["echo '@@hostprep:unneeded@@'",
                      f"\"$_hp_pkg\" -q {' '.join(self._repo_opts(args))} repoquery --unneeded "
                      f"--qf '{REPOQUERY_QF}' 2>/dev/null"]
        return "\n".join(lines)

    def _updates_cmd(self, args: dict[str, Any], targets: list[str] | None = None, errors: bool = False) -> str:
        """check-update's listing and exit status (rc=100: updates); every package unless `targets`.

        Without targets the command is the same for every task with the same repositories, so
        the tasks of one probe batch share one dnf run (`once_per_batch`): a system update and a
        `python*` update ask dnf once. With targets it is the exact question (the task's own
        excludes included), asked when that shared listing cannot be read; `errors` keeps dnf's
        messages in the output (to report why it failed).
        """
        refresh = " --refresh" if args["update_cache"] else ""
        if targets is None:
            opts, words = self._repo_opts(args, exclude=False), ""
        else:
            opts, words = self._repo_opts(args), "".join(f" {q(t)}" for t in targets if t != "*")
        stderr = "2>&1" if errors else "2>/dev/null"
        return (f"{self.tool(args)}; \"$_hp_pkg\" -q{refresh} {' '.join(opts)} check-update{words} {stderr}; "
                "echo \"rc=$?\"")

    def _has_updates(self, args: dict[str, Any], spec: PackageSpec, listing: str,
                     ctx: TaskContext) -> tuple[bool, str | None]:
        """Whether the repositories offer an update for an installed package matching glob `spec`.

        Returns (updates?, None), or (False, why) when dnf could not tell (e.g. a repository
        that cannot be read): Ansible fails the task then, and so does this module."""
        parsed = parse_check_update(listing)
        if parsed is not None and parsed[0] == 0:
            return False, None
        if parsed is not None and parsed[0] == 100:
            return bool(updates_for(parsed[1], spec.raw, args["exclude"])), None
        exact = ctx.probe(self._updates_cmd(args, [spec.raw], errors=True))
        detail, _, rc = exact.stdout.rstrip().rpartition("rc=")
        if rc in ("0", "100"):
            return rc == "100", None
        return False, f"{self.name} check-update {spec.raw} failed (rc={rc}): {detail.strip()[-2000:]}"

    # -- plan ----------------------------------------------------------------------------
    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        state = self._state(args)
        specs = [PackageSpec.parse(s) for s in args["name"]]
        sec = sections(probe.stdout if probe else "")
        plan = self._plan_absent(args, specs, sec) if state == "absent" else \
            self._plan_install(args, specs, sec, state, ctx)
        if plan.changed and not plan.failed and getattr(ctx, "check_mode", False):
            plan.msg = "Check mode: No changes made, but would have if not in check mode"  # Ansible's words
            would = self._would_do(plan, ctx)
            if would is not None:
                plan.result["results"] = list(getattr(plan, "notes", [])) + would
        return plan

    def _would_do(self, plan: Plan, ctx: TaskContext) -> list[str] | None:
        """Check mode: what the plan's transactions would install and remove, dependencies too, as Ansible's
        check mode lists them (dnf resolves each step with --assumeno, which changes nothing)."""
        out: list[str] = []
        if getattr(ctx, "transport", None) is None:  # a plan made without a host (tests, docs)
            return None
        for step in plan.steps:
            if not isinstance(step, Command) or '"$_hp_pkg" -y ' not in step.cmd:
                return None
            asked = ctx.probe(step.cmd.replace('"$_hp_pkg" -y ', 'LC_ALL=C "$_hp_pkg" --assumeno ', 1))
            table = transaction_table(asked.stdout)
            if table is None:
                return None
            out += [f"{'Removed' if verb.startswith(('Removing', 'Obsoleting')) else 'Installed'}: {pkg}"
                    for verb, pkg in table]
            out += replaced_packages(table, getattr(plan, "replaced", {}))
        return out

    def _command(self, args: dict[str, Any], verb: str, targets: list[str]) -> Command:
        words = " ".join(q(t) for t in targets)
        return Command(f"{self.tool(args)}; \"$_hp_pkg\" {self._options(args)} {verb} {words}".rstrip())

    def _plan_absent(self, args: dict[str, Any], specs: list[PackageSpec], sec: dict[str, str]) -> Plan:
        if any(s.raw == "*" for s in specs):
            return Plan(failed=True, msg="refusing to remove every package ('*' with state=absent)")
        victims: list[Nevra] = []
        notes: list[str] = []  # Ansible's dnf says so for each name that has nothing installed
        for i, spec in enumerate(specs):
            found = parse_nevras(sec.get(f"pkg{i}", "") or sec.get(f"have{i}", ""))
            if spec.kind in ("file", "url"):
                cand = parse_nevras(sec.get(f"cand{i}", ""))
                found = [p for p in found if cand and p.evr.compare(cand[0].evr) == 0]
            matched = [p for p in found if spec.matches(p)]
            if not matched and spec.kind in NAMED:
                notes.append(f"No match for argument: {spec.raw}")
            victims += [p for p in matched if p not in victims]
        steps: list[Command] = []
        if victims:
            steps.append(self._command(args, "remove", [p.spec for p in victims]))
        unneeded = parse_nevras(sec.get("unneeded", ""))
        if args["autoremove"] and unneeded:
            steps.append(Command(f"{self.tool(args)}; \"$_hp_pkg\" {self._options(args)} autoremove"))
        removed = victims + [p for p in unneeded if args["autoremove"] and p not in victims]
        before = "".join(f"{p.name}: {p.evr}\n" for p in removed)
        after = "".join(f"{p.name}: absent\n" for p in removed)
        results = [f"Removed: {p}" for p in removed]
        plan = Plan(bool(steps), steps, diff={"before": before, "after": after} if steps else None,
                    msg="" if steps else "Nothing to do", result={"results": notes + results, "rc": 0})
        plan.notes = notes  # type: ignore[attr-defined]
        return plan

    def _plan_install(self, args: dict[str, Any], specs: list[PackageSpec], sec: dict[str, str],
                      state: str, ctx: TaskContext) -> Plan:
        install: list[str] = []
        upgrade: list[str] = []
        downgrade: list[str] = []
        before: list[str] = []
        after: list[str] = []
        results: list[str] = []
        deferred: list[str] = []
        replaced: dict[str, str] = {}  # name -> the installed package an upgrade or downgrade replaces
        for i, spec in enumerate(specs):
            if spec.kind == "glob":
                if spec.raw == "*" or state == "latest":
                    updates, error = (self._has_updates(args, spec, sec.get("updates", ""), ctx)
                                      if state == "latest" else (False, None))
                    if error:
                        return Plan(failed=True, msg=error, result={"results": [], "rc": 1})
                    if updates:
                        upgrade.append(spec.raw)
                        before.append(f"{spec.raw}: updates available")
                        after.append(f"{spec.raw}: latest")
                        results.append(f"Upgraded: {spec.raw}")
                    elif state == "latest" and not parse_nevras(sec.get(f"pkg{i}", "")) and spec.raw != "*" \
                            and not args["update_only"]:
                        install.append(spec.raw)
                        before.append(f"{spec.raw}: absent")
                        after.append(f"{spec.raw}: latest")
                        results.append(f"Installed: {spec.raw}")
                elif not parse_nevras(sec.get(f"pkg{i}", "")):
                    install.append(spec.raw)
                    before.append(f"{spec.raw}: absent")
                    after.append(f"{spec.raw}: present")
                    results.append(f"Installed: {spec.raw}")
                continue
            installed = [p for p in parse_nevras(sec.get(f"pkg{i}", "")) if spec.matches(p)]
            if (state == "present" and _bare_name(spec) and not installed and f"cand{i}" not in sec
                    and f"pkg{i}" in sec):
                # the install decides (finish reads what it did); check mode asks first (unless there is no host)
                if not getattr(ctx, "check_mode", False) or getattr(ctx, "transport", None) is None:
                    install.append(spec.raw)
                    deferred.append(spec.raw)
                    before.append(f"{spec.raw}: absent")
                    after.append(f"{spec.raw}: present")
                    results.append(f"Installed: {spec.raw}")
                    continue
                sec = {**sec, **self._ask_candidate(args, i, spec, ctx)}  # check mode: ask, change nothing
            cand_text = sec.get(f"cand{i}", "")
            candidates = [p for p in parse_nevras(cand_text) if spec.matches(p)]
            cand = newest(candidates)
            have = parse_nevras(sec.get(f"have{i}", ""))
            if spec.kind in ("file", "url"):
                if cand is None:
                    return Plan(failed=True, msg=f"{spec.raw} is not a readable RPM package")
                if any(h.evr.compare(cand.evr) == 0 for h in have):
                    continue
                installed = []
            label = cand.name if cand else (installed[0].name if installed else spec.raw)
            current = newest([h for h in have if cand is None or h.name == cand.name] or installed)
            if installed and state == "present":
                continue
            if installed:  # latest: upgrade when the repositories offer something newer
                top = newest(installed)
                assert top is not None
                if cand is not None and cand.evr.compare(top.evr) > 0:
                    upgrade.append(cand.spec)
                    replaced[cand.name] = str(top)
                    before.append(f"{label}: {top.evr}")
                    after.append(f"{label}: {cand.evr}")
                    results.append(f"Upgraded: {cand}")
                continue
            if state == "latest" and args["update_only"]:
                continue
            if cand is None:
                rc = cand_text.strip().rsplit("rc=", 1)[-1] if "rc=" in cand_text else ""
                if rc == "0" and spec.kind != "url":
                    return Plan(failed=True, msg=NOT_FOUND.format(spec.raw), result={"results": [], "rc": 1})
                install.append(spec.raw)
                before.append(f"{label}: absent")
                after.append(f"{label}: present")
                results.append(f"Installed: {spec.raw}")
                continue
            if current is not None and cand.evr.compare(current.evr) < 0:
                if not args["allow_downgrade"]:
                    continue  # a newer version is installed: Ansible leaves it alone
                downgrade.append(spec.raw if spec.kind in ("file", "url") else cand.spec)
                verb = "Downgraded"
            else:
                install.append(spec.raw if spec.kind in ("file", "url") else
                               (spec.raw if spec.kind == "relation" else cand.spec))
                verb = "Upgraded" if current is not None else "Installed"
            if current is not None:
                replaced[cand.name] = str(current)
            before.append(f"{label}: {current.evr if current else 'absent'}")
            after.append(f"{label}: {cand.evr}")
            results.append(f"{verb}: {cand}")
        steps: list[Command] = []
        if install:
            steps.append(self._command(args, "install", install))
        if upgrade:
            steps.append(self._command(args, "upgrade", [] if "*" in upgrade else upgrade))
        if downgrade:
            steps.append(self._command(args, "downgrade", downgrade))
        diff = {"before": "".join(f"{b}\n" for b in before),
                "after": "".join(f"{a}\n" for a in after)} if steps else None
        plan = Plan(bool(steps), steps, diff=diff, msg="" if steps else "Nothing to do",
                    result={"results": results, "rc": 0})
        plan.deferred = deferred  # type: ignore[attr-defined]
        plan.replaced = replaced  # type: ignore[attr-defined]
        return plan

    def finish(self, args: dict[str, Any], plan: Plan, outputs: list, ctx: TaskContext) -> dict:
        """Ansible's dnf result: `results` from what the transaction did ("Installed: NEVRA" for every package it
        installed, dependencies too, "Removed: NEVRA"), `rc`, `msg` ("" on a change, "Nothing to do" when dnf
        found nothing to do) and, on failure, `failures` ("No package X available." for a spec no repository has).
        """
        result = dict(plan.result)
        if not outputs:
            return result
        last = outputs[-1]
        result["rc"] = last.rc
        if last.rc != 0:
            said = f"{last.stdout}\n{last.stderr}"
            missing = re.findall(r"^No match for argument: (.+?)\s*$", said, re.M)
            if missing:
                result.update(msg=FAILED_INSTALL, failures=[NO_PACKAGE.format(m) for m in missing], results=[])
            else:
                result["msg"] = last.stderr.strip() or last.stdout.strip()[-2000:]
                result["failures"] = [last.stderr.strip()] if last.stderr.strip() else []
            return result
        done = [transaction_packages(out.stdout) for out in outputs]
        if any(d is None for d in done):
            return result  # not dnf's usual summary (another language?): the plan's own account stays
        packages = [p for d in done for p in d or []]
        result["results"] = list(getattr(plan, "notes", [])) + [
            f"{'Removed' if verb in ('Removed', 'Obsoleted') else 'Installed'}: {pkg}" for verb, pkg in packages]
        result["results"] += replaced_packages(packages, getattr(plan, "replaced", {}))
        result["msg"] = ""  # Ansible's dnf after a transaction
        if not packages:  # dnf found nothing to do (e.g. a name another installed package provides)
            plan.changed = False
            plan.diff = None
            result["msg"] = "Nothing to do"
        elif getattr(plan, "deferred", None) and isinstance(plan.diff, dict):
            versions = {p.name: p for p in (_nevra_of(pkg) for verb, pkg in packages if verb != "Removed") if p}
            plan.diff["after"] = "".join(
                f"{line.split(': ', 1)[0]}: {versions[line.split(': ', 1)[0]].evr}\n"
                if line.endswith(": present") and line.split(": ", 1)[0] in versions else f"{line}\n"
                for line in plan.diff["after"].splitlines())
        return result


def replaced_packages(packages: list[tuple[str, str]], replaced: dict[str, str]) -> list[str]:
    """'Removed: OLD' for each package an upgrade or downgrade replaced, as Ansible's dnf lists its transaction's
    remove_set (the old package of an upgrade is there, beside the new one in install_set); the old versions
    are the ones the plan saw installed."""
    out = []
    for verb, pkg in packages:
        new = _nevra_of(pkg) if verb.startswith(("Upgrad", "Downgrad")) else None
        if new is not None and new.name in replaced:
            out.append(f"Removed: {replaced[new.name]}")
    return out


_TABLE = re.compile(r"^(Installing|Upgrading|Downgrading|Reinstalling|Removing|Obsoleting)[a-z ]*:\s*$")


def transaction_table(stdout: str) -> list[tuple[str, str]] | None:
    """(section, name-[epoch:]version-release.arch) from the table dnf prints before it asks (None: no table).

    Rows are ` name arch version repository size unit`; a name too long for its column is alone on its line
    and the rest follows on the next."""
    out: list[tuple[str, str]] = []
    section = None
    seen = False
    words: list[str] = []
    for line in stdout.splitlines():
        head = _TABLE.match(line.rstrip())
        if head:
            section, seen, words = line.strip().rstrip(":"), True, []
            continue
        if section is None:
            continue
        if not line.startswith(" ") or not line.strip():
            section = None
            continue
        if line.split()[0] == "replacing":  # the package an upgrade obsoletes, under its row
            continue
        words += line.split()
        if len(words) >= 4:
            name, arch, version = words[:3]
            out.append((section, f"{name}-{version}.{arch}"))
            words = []
    return out if seen else None


def _nevra_of(text: str) -> Nevra | None:
    """A Nevra from dnf's name-[epoch:]version-release.arch."""
    base, dot, arch = text.rpartition(".")
    name_ver, _, release = base.rpartition("-")
    name, _, version = name_ver.rpartition("-")
    if not (dot and name and version and release):
        return None
    return Nevra.parse(f"{name} {version}-{release}.{arch}")
