"""git: a checkout of a repository at a version (branch, tag, commit or HEAD), with git on the host.

The probe reads the checkout's commit and whether it has local changes, and asks the remote
(`git ls-remote`, read-only) which commit the version names; a change is needed only when they
differ. Local modifications are refused unless `force`, as Ansible does.
"""

from __future__ import annotations

import re
from typing import Any

from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q, sections

SHA = re.compile(r"^[0-9a-f]{40}$")


def resolve(listing: str, version: str) -> tuple[str | None, str]:
    """The commit `version` names in `git ls-remote` output, and its kind (branch, tag, head)."""
    refs: dict[str, str] = {}
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 2 and SHA.match(parts[0]):
            refs[parts[1]] = parts[0]
    if version == "HEAD":
        return refs.get("HEAD"), "head"
    if f"refs/heads/{version}" in refs:
        return refs[f"refs/heads/{version}"], "branch"
    for ref in (f"refs/tags/{version}^{{}}", f"refs/tags/{version}"):
        if ref in refs:
            return refs[ref], "tag"
    return None, "unknown"


class GitModule(Module):
    name = "git"
    doc = ("Clone or update a git checkout at `version` (branch, tag, full commit id, or HEAD). Local changes "
           "fail the task unless force: true. Needs git on the host.")
    examples = "- git:\n    repo: https://github.com/example/app.git\n    dest: /srv/app\n    version: v1.2.0\n"
    args = {
        "repo": Arg("str", required=True, aliases=("name",)),
        "dest": Arg("path", required=True),
        "version": Arg("str", default="HEAD"),
        "force": Arg("bool", default=False),
        "depth": Arg("int"),
        "update": Arg("bool", default=True),
        "clone": Arg("bool", default=True),
        "remote": Arg("str", default="origin"),
        "accept_hostkey": Arg("bool", default=False),
        "key_file": Arg("path"),
        "single_branch": Arg("bool", default=False),
        "recursive": Arg("bool", default=True),
    }

    def _env(self, args: dict[str, Any]) -> str:
        ssh = []
        if args["accept_hostkey"]:
            ssh.append("-o StrictHostKeyChecking=accept-new")
        if args.get("key_file"):
            ssh.append(f"-i {q(args['key_file'])} -o IdentitiesOnly=yes")
        return f"GIT_SSH_COMMAND={q('ssh ' + ' '.join(ssh))} " if ssh else ""

    def probe(self, args: dict[str, Any]) -> str | None:
        d, version = q(args["dest"]), args["version"]
        ask = "" if SHA.match(version) else (
            f"{self._env(args)}GIT_TERMINAL_PROMPT=0 git ls-remote {q(args['repo'])} "
            + (q("HEAD") if version == "HEAD" else
               f"{q('refs/heads/' + version)} {q('refs/tags/' + version)} {q('refs/tags/' + version + '^{}')}")
            + " 2>&1; echo \"@@hostprep:remote_rc@@\"; echo $?")
        return (f"echo '@@hostprep:local@@'; if [ -e {d}/.git ]; then git -C {d} rev-parse HEAD 2>/dev/null; "
                f"git -C {d} status --porcelain --untracked-files=no 2>/dev/null | head -n 1 | sed 's/^/dirty /'; "
                f"elif [ -e {d} ] && [ -n \"$(ls -A {d} 2>/dev/null)\" ]; then echo notgit; else echo absent; fi; "
                f"echo '@@hostprep:remote@@'; {ask}")

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        sec = sections(probe.stdout if probe else "")
        local = (sec.get("local") or "absent").strip().splitlines() or ["absent"]
        version = args["version"]
        if SHA.match(version):
            wanted, kind = version, "commit"
        else:
            if (sec.get("remote_rc") or "0").strip() not in ("0", ""):
                return Plan(failed=True, msg=f"Failed to ask {args['repo']} for {version}: "
                                             f"{(sec.get('remote') or '').strip()[:500]}", result={})
            wanted, kind = resolve(sec.get("remote", ""), version)
            if wanted is None:
                return Plan(failed=True, msg=f"Cannot find version {version!r} in {args['repo']}", result={})
        before = None if local[0] in ("absent", "notgit") else local[0]
        result: dict[str, Any] = {"before": before, "after": wanted, "remote_url_changed": False}
        d, env = q(args["dest"]), self._env(args)
        if local[0] == "notgit":
            return Plan(failed=True, msg=f"Destination {args['dest']} exists and is not a git checkout", result=result)
        dirty = len(local) > 1 and local[1].startswith("dirty")
        if before is not None and dirty and args["update"] and not args["force"]:  # as Ansible: checked first
            return Plan(failed=True, result=result, msg="Local modifications exist in the destination: "
                                                        f"{args['dest']} (force=no).")
        if before == wanted:
            return Plan(False, result=result)
        if before is None:
            if not args["clone"]:
                return Plan(False, result={**result, "after": None})
            opts = ""
            if args.get("depth"):
                opts += f" --depth {int(args['depth'])}"
            if kind in ("branch", "tag"):
                opts += f" --branch {q(version)}"
            if args["single_branch"]:
                opts += " --single-branch"
            steps = [Command(f"{env}GIT_TERMINAL_PROMPT=0 git clone{opts} --origin {q(args['remote'])} "
                             f"{q(args['repo'])} {d}")]
            if kind == "commit":
                steps.append(Command(f"git -C {d} checkout --force --detach {wanted}"))
        else:
            if not args["update"]:
                return Plan(False, result={**result, "after": before})
            depth = f" --depth {int(args['depth'])}" if args.get("depth") else ""
            remote = q(args["remote"])
            steps = [Command(f"{env}GIT_TERMINAL_PROMPT=0 git -C {d} fetch{depth} --tags {remote} "
                             f"'+refs/heads/*:refs/remotes/{args['remote']}/*'" if kind != "commit" else
                             f"{env}GIT_TERMINAL_PROMPT=0 git -C {d} fetch{depth} --tags {remote}")]
            if kind == "branch":
                steps.append(Command(f"git -C {d} checkout --force -B {q(version)} {wanted}"))
            elif kind == "head":
                steps.append(Command(f"git -C {d} reset --hard {wanted}"))
            else:
                steps.append(Command(f"git -C {d} checkout --force --detach {wanted}"))
        if args["recursive"]:
            steps.append(Command(f"if [ -f {d}/.gitmodules ]; then {env}git -C {d} submodule update --init "
                                 "--recursive; fi"))
        return Plan(True, steps, result=result, diff={"before": f"{before}\n", "after": f"{wanted}\n"})
