"""user: a local account with useradd/usermod/userdel, probed with getent and id.

The password is an already-hashed crypt string (never a clear text one); it travels only inside
no_log commands and is never put in a diff or a result.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q, sections

HIDDEN = "NOT_LOGGING_PASSWORD"
# $id$...$hash (md5, sha256/512, yescrypt, bcrypt), 13-character DES, or a locked/disabled marker
CRYPT_HASH = re.compile(r"^(\$[0-9a-z]+\$\S+|[./0-9A-Za-z]{13}|!+|\*|!+\$\S+)$")


def expiry_days(expires: float) -> str:
    """The shadow file's expiry field for Ansible's `expires` (epoch seconds; negative = never)."""
    return "" if expires < 0 else str(int(expires // 86400))


def expiry_date(expires: float) -> str:
    """usermod/useradd -e argument: YYYY-MM-DD, or '' to clear."""
    if expires < 0:
        return "''"
    return datetime.datetime.fromtimestamp(expires, tz=datetime.UTC).strftime("%Y-%m-%d")


def _key_path_shell(args: dict[str, Any]) -> str:
    """Shell that sets $f to the key file: ssh_key_file relative to the user's home (as Ansible)."""
    rel = args.get("ssh_key_file") or f".ssh/id_{args['ssh_key_type']}"
    if rel.startswith("/"):
        return f"f={q(rel)}"
    return f"f=\"$(getent passwd {q(args['name'])} | cut -d: -f6)\"/{q(rel)}"


class UserModule(Module):
    name = "user"
    doc = ("Create, change or remove a user account. `groups` replaces the supplementary groups unless "
           "`append: true`; `password` must already be hashed (crypt(3)); `expires` is epoch seconds.")
    examples = "- user:\n    name: deploy\n    groups: docker\n    append: true\n"
    gives_diff = False  # Ansible's module has no diff support: --diff shows and registers none
    args = {
        "name": Arg("str", required=True, aliases=("user",)),
        "state": Arg("str", default="present", choices=("present", "absent")),
        "uid": Arg("int"),
        "group": Arg("str"),
        "groups": Arg("list", elements="str"),
        "append": Arg("bool", default=False),
        "shell": Arg("str"),
        "home": Arg("path"),
        "create_home": Arg("bool", default=True, aliases=("createhome",)),
        "move_home": Arg("bool", default=False),
        "system": Arg("bool", default=False),
        "comment": Arg("str"),
        "password": Arg("str", no_log=True, doc="An already-hashed password (crypt)."),
        "update_password": Arg("str", default="always", choices=("always", "on_create")),
        "remove": Arg("bool", default=False),
        "force": Arg("bool", default=False),
        "password_lock": Arg("bool"),
        "expires": Arg("float"),
        "non_unique": Arg("bool", default=False),
        "generate_ssh_key": Arg("bool", default=False),
        "ssh_key_bits": Arg("int", default=0, doc="0: ssh-keygen's default for the type."),
        "ssh_key_type": Arg("str", default="rsa"),
        "ssh_key_file": Arg("path", doc="Relative to the home directory; default .ssh/id_<type>."),
        "ssh_key_comment": Arg("str", doc="Default: ansible-generated on <host name>."),
        "ssh_key_passphrase": Arg("str", no_log=True),
    }

    def validate(self, raw: Any) -> dict[str, Any]:
        args = super().validate(raw)
        password = args.get("password")
        if password and not CRYPT_HASH.match(password):
            # the value itself is never part of the message
            raise ModuleArgError("user: password must be a crypt(3) hash (e.g. from password_hash), not clear text",
                                 key="password")
        return args

    def _wanted_groups(self, args: dict[str, Any]) -> list[str]:
        return [g for g in ([args["group"]] if args.get("group") else []) + list(args.get("groups") or []) if g]

    def probe(self, args: dict[str, Any]) -> str | None:
        n = q(args["name"])
        lines = [f"echo '@@hostprep:passwd@@'; getent passwd {n}",
                 f"echo '@@hostprep:groups@@'; id -Gn {n} 2>/dev/null",
                 f"echo '@@hostprep:primary@@'; id -gn {n} 2>/dev/null",
                 f"echo '@@hostprep:shadow@@'; getent shadow {n} 2>/dev/null",
                 "echo '@@hostprep:known_groups@@'"]
        for g in self._wanted_groups(args):
            lines.append(f"getent group {q(g)} 2>/dev/null")
        if args.get("generate_ssh_key") and args["state"] == "present":
            lines.append("echo '@@hostprep:sshkey@@'")
            lines.append(f"{_key_path_shell(args)}; if [ -f \"$f\" ]; then echo exists; cat \"$f.pub\" 2>/dev/null; "
                         "ssh-keygen -lf \"$f.pub\" 2>/dev/null; fi")
        return "\n".join(lines)

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        sec = sections(probe.stdout if probe else "")
        entry = sec.get("passwd", "").strip()
        name = args["name"]
        result: dict[str, Any] = {"name": name, "state": args["state"]}
        if args["state"] == "absent":
            if entry:  # Ansible gives force/remove only when it removes the user
                result.update(force=args["force"], remove=args["remove"])
                flags = ("-r " if args["remove"] else "") + ("-f " if args["force"] else "")
                return Plan(True, [Command(f"userdel {flags}{q(name)}")], result=result,
                            diff={"before": f"user {name}: present\n", "after": f"user {name}: absent\n"})
            return Plan(False, result=result)
        known = set()
        for line in sec.get("known_groups", "").splitlines():
            parts = line.split(":")
            if len(parts) > 2:
                known.update({parts[0], parts[2]})
        for g in self._wanted_groups(args):
            if g not in known:
                return Plan(failed=True, msg=f"Group {g} does not exist", result=result)
        if args.get("password"):
            result["password"] = HIDDEN
        plan = self._plan_create(args, result) if not entry else self._plan_modify(args, sec, entry, result)
        if args.get("generate_ssh_key") and not plan.failed:
            self._plan_ssh_key(args, sec.get("sshkey", ""), plan)
        return plan

    def _plan_ssh_key(self, args: dict[str, Any], probed: str, plan: Plan) -> None:
        """generate_ssh_key: ssh-keygen as Ansible runs it, only when the key file does not exist yet."""
        lines = probed.strip().splitlines()
        plan.result["ssh_key_file"] = args.get("ssh_key_file") or f".ssh/id_{args['ssh_key_type']}"
        if lines and lines[0] == "exists":
            plan.result["ssh_public_key"] = lines[1] if len(lines) > 1 else ""
            plan.result["ssh_fingerprint"] = lines[2] if len(lines) > 2 else ""
            return
        name = q(args["name"])
        bits = f" -b {args['ssh_key_bits']}" if args["ssh_key_bits"] else ""
        comment = q(args["ssh_key_comment"]) if args.get("ssh_key_comment") is not None else \
            '"ansible-generated on $(hostname)"'
        passphrase = q(args.get("ssh_key_passphrase") or "")
        cmd = (f"{_key_path_shell(args)}; d=$(dirname \"$f\"); "
               f"if [ ! -d \"$d\" ]; then mkdir -p \"$d\" && chmod 0700 \"$d\" && chown {name}: \"$d\"; fi && "
               f"ssh-keygen -q -t {q(args['ssh_key_type'])}{bits} -C {comment} -N {passphrase} -f \"$f\" "
               f"</dev/null && chown {name}: \"$f\" \"$f.pub\"")
        plan.steps.append(Command(cmd, no_log=True))
        plan.changed = True

    def _plan_create(self, args: dict[str, Any], result: dict[str, Any]) -> Plan:
        name = args["name"]
        opts: list[str] = []
        if args.get("uid") is not None:
            opts.append(f"-u {args['uid']}" + (" -o" if args["non_unique"] else ""))
        if args.get("group"):
            opts.append(f"-g {q(args['group'])}")
        if args.get("groups"):
            opts.append(f"-G {q(','.join(args['groups']))}")
        if args.get("shell"):
            opts.append(f"-s {q(args['shell'])}")
        if args.get("home"):
            opts.append(f"-d {q(args['home'])}")
        if args.get("comment") is not None:
            opts.append(f"-c {q(args['comment'])}")
        if args.get("password"):
            opts.append(f"-p {q(args['password'])}")
        if args.get("expires") is not None:
            opts.append(f"-e {expiry_date(args['expires'])}")
        opts.append("-m" if args["create_home"] else "-M")
        if args["system"]:
            opts.append("-r")
        steps = [Command(f"useradd {' '.join(opts)} {q(name)}", no_log=True)]
        if args.get("password_lock"):
            steps.append(Command(f"usermod -L {q(name)}"))
        result.update(create_home=args["create_home"], system=args["system"])
        if args.get("groups"):  # as Ansible: the groups asked for, comma-joined
            result["groups"] = ",".join(args["groups"])
        return Plan(True, steps, result=result,
                    diff={"before": f"user {name}: absent\n", "after": f"user {name}: present\n"})

    def _plan_modify(self, args: dict[str, Any], sec: dict[str, str], entry: str, result: dict[str, Any]) -> Plan:
        name = args["name"]
        fields = entry.split(":")
        uid, gid, comment, home, shell = fields[2], fields[3], fields[4], fields[5], fields[6]
        result.update(uid=int(uid), group=int(gid), home=home, shell=shell, comment=comment, append=args["append"],
                      move_home=args["move_home"])
        shadow = sec.get("shadow", "").strip().split(":")
        opts: list[str] = []
        before: list[str] = []
        after: list[str] = []

        def change(opt: str, label: str, old: str, new: str) -> None:
            opts.append(opt)
            before.append(f"{label}: {old}")
            after.append(f"{label}: {new}")

        if args.get("uid") is not None and str(args["uid"]) != uid:
            change(f"-u {args['uid']}" + (" -o" if args["non_unique"] else ""), "uid", uid, str(args["uid"]))
        primary = sec.get("primary", "").strip()
        if args.get("group") and args["group"] not in (primary, gid):
            change(f"-g {q(args['group'])}", "group", primary, args["group"])
        if args.get("groups") is not None:
            current = set(sec.get("groups", "").split()) - {primary}
            wanted = set(args["groups"])
            if args["append"] and not wanted <= current:
                change(f"-a -G {q(','.join(sorted(wanted - current)))}", "groups", ",".join(sorted(current)),
                       ",".join(sorted(current | wanted)))
            elif not args["append"] and wanted != current:
                change(f"-G {q(','.join(sorted(wanted)))}", "groups", ",".join(sorted(current)),
                       ",".join(sorted(wanted)))
            result["groups"] = ",".join(args["groups"])
        if args.get("shell") and args["shell"] != shell:
            change(f"-s {q(args['shell'])}", "shell", shell, args["shell"])
        if args.get("home") and args["home"] != home:
            change(f"-d {q(args['home'])}" + (" -m" if args["move_home"] else ""), "home", home, args["home"])
        if args.get("comment") is not None and args["comment"] != comment:
            change(f"-c {q(args['comment'])}", "comment", comment, args["comment"])
        current_hash = shadow[1] if len(shadow) > 1 else ""
        # as Ansible: the lock marker is not part of the comparison ('!' on a locked account without a
        # password is no change on a re-run)
        if args.get("password") and args["update_password"] == "always" and current_hash.lstrip("!") != \
                args["password"].lstrip("!"):
            change(f"-p {q(args['password'])}", "password", "(hidden)", "(changed, hidden)")
        if args.get("expires") is not None:
            have = shadow[7] if len(shadow) > 7 else ""
            if have != expiry_days(args["expires"]):
                change(f"-e {expiry_date(args['expires'])}", "expires", have or "never",
                       expiry_days(args["expires"]) or "never")
        if args.get("password_lock") is not None:
            locked = current_hash.startswith("!")
            if args["password_lock"] != locked:
                change("-L" if args["password_lock"] else "-U", "password_lock", str(locked),
                       str(args["password_lock"]))
        if not opts:
            return Plan(False, result=result)
        return Plan(True, [Command(f"usermod {' '.join(opts)} {q(name)}", no_log=True)], result=result,
                    diff={"before": "".join(f"{b}\n" for b in before), "after": "".join(f"{a}\n" for a in after)})

    def reads_after(self, args: dict[str, Any]) -> list[str]:
        return [f"getent passwd {q(args['name'])}"] if args["state"] == "present" else []

    def finish(self, args: dict[str, Any], plan: Plan, outputs: list, ctx: TaskContext) -> dict:
        """After a change, report the account as it now is (uid, group, home, shell like Ansible)."""
        result = dict(plan.result)
        if outputs and outputs[-1].rc != 0:
            result["rc"] = outputs[-1].rc
            # stderr of useradd/usermod never holds the hash; stdout is empty
            result["msg"] = outputs[-1].stderr.strip()
            return result
        if outputs and args["state"] == "present":
            entry = ctx.probe(f"getent passwd {q(args['name'])}").stdout.strip().split(":")
            if len(entry) > 6:
                result.update(uid=int(entry[2]), group=int(entry[3]), comment=entry[4], home=entry[5],
                              shell=entry[6])
            if args.get("generate_ssh_key") and "ssh_public_key" not in result:
                key = ctx.probe(f"{_key_path_shell(args)}; cat \"$f.pub\"; ssh-keygen -lf \"$f.pub\"")
                lines = key.stdout.strip().splitlines()
                result["ssh_public_key"] = lines[0] if lines else ""
                result["ssh_fingerprint"] = lines[1] if len(lines) > 1 else ""
        return result
