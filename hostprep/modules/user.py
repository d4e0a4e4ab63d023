"""user and group: local accounts with useradd/usermod/userdel and groupadd/groupmod/groupdel."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q, sections


class UserModule(Module):
    name = "user"
    doc = "Create, change or remove a user account; `groups` with `append: true` adds supplementary groups."
    examples = "- user:\n    name: deploy\n    groups: docker\n    append: true\n"
    args = {
        "name": Arg("str", required=True, aliases=("user",)),
        "state": Arg("str", default="present", choices=("present", "absent")),
        "uid": Arg("int"), "group": Arg("str"), "groups": Arg("list", elements="str"),
        "append": Arg("bool", default=False), "shell": Arg("str"), "home": Arg("path"),
        "create_home": Arg("bool", default=True, aliases=("createhome",)), "system": Arg("bool", default=False),
        "comment": Arg("str"), "password": Arg("str", no_log=True, doc="An already-hashed password (crypt)."),
        "update_password": Arg("str", default="always", choices=("always", "on_create")),
        "remove": Arg("bool", default=False), "force": Arg("bool", default=False),
        "password_lock": Arg("bool"), "expires": Arg("float"), "non_unique": Arg("bool", default=False),
    }

    def probe(self, args: dict[str, Any]) -> str | None:
        n = q(args["name"])
        return (f"echo '@@hostprep:passwd@@'; getent passwd {n}; echo '@@hostprep:groups@@'; "
                f"id -Gn {n} 2>/dev/null; echo '@@hostprep:primary@@'; id -gn {n} 2>/dev/null; "
                f"echo '@@hostprep:shadow@@'; getent shadow {n} 2>/dev/null | cut -d: -f2; "
                f"echo '@@hostprep:known_groups@@'; getent group | cut -d: -f1,3")

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        sec = sections(probe.stdout if probe else "")
        entry = sec.get("passwd", "").strip()
        name = args["name"]
        result: dict[str, Any] = {"name": name, "state": args["state"]}
        if args["state"] == "absent":
            if entry:
                flags = ("-r " if args["remove"] else "") + ("-f " if args["force"] else "")
                return Plan(True, [Command(f"userdel {flags}{q(name)}")], result=result,
                            diff={"before": f"user {name}: present\n", "after": f"user {name}: absent\n"})
            return Plan(False, result=result)
        known = {line.split(":")[0] for line in sec.get("known_groups", "").split()}
        for g in ([args["group"]] if args.get("group") else []) + (args.get("groups") or []):
            if g and g not in known and not g.isdigit():
                return Plan(failed=True, msg=f"Group {g} does not exist", result=result)
        opts: list[str] = []
        before, after = [], []
        if not entry:
            if args.get("uid") is not None:
                opts.append(f"-u {args['uid']}")
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
            opts.append("-m" if args["create_home"] else "-M")
            if args["system"]:
                opts.append("-r")
            steps = [Command(f"useradd {' '.join(opts)} {q(name)}", no_log=True)]
            return Plan(True, steps, result=result, diff={"before": f"user {name}: absent\n",
                                                          "after": f"user {name}: present\n"})
        fields = entry.split(":")
        uid, _gid, comment, home, shell = fields[2], fields[3], fields[4], fields[5], fields[6]
        result.update(uid=int(uid), home=home, shell=shell, comment=comment)
        if args.get("uid") is not None and str(args["uid"]) != uid:
            opts.append(f"-u {args['uid']}")
            before.append(f"uid: {uid}")
            after.append(f"uid: {args['uid']}")
        primary = sec.get("primary", "").strip()
        if args.get("group") and args["group"] not in (primary, _gid):
            opts.append(f"-g {q(args['group'])}")
            before.append(f"group: {primary}")
            after.append(f"group: {args['group']}")
        if args.get("groups") is not None:
            current = set(sec.get("groups", "").split()) - {primary}
            wanted = set(args["groups"])
            if args["append"]:
                if not wanted <= current:
                    opts.append(f"-a -G {q(','.join(sorted(wanted - current)))}")
                    before.append(f"groups: {','.join(sorted(current))}")
                    after.append(f"groups: {','.join(sorted(current | wanted))}")
            elif wanted != current:
                opts.append(f"-G {q(','.join(sorted(wanted)))}")
                before.append(f"groups: {','.join(sorted(current))}")
                after.append(f"groups: {','.join(sorted(wanted))}")
        if args.get("shell") and args["shell"] != shell:
            opts.append(f"-s {q(args['shell'])}")
            before.append(f"shell: {shell}")
            after.append(f"shell: {args['shell']}")
        if args.get("home") and args["home"] != home:
            opts.append(f"-d {q(args['home'])}" + (" -m" if args["create_home"] else ""))
            before.append(f"home: {home}")
            after.append(f"home: {args['home']}")
        if args.get("comment") is not None and args["comment"] != comment:
            opts.append(f"-c {q(args['comment'])}")
            before.append(f"comment: {comment}")
            after.append(f"comment: {args['comment']}")
        if args.get("password") and args["update_password"] == "always" and \
                sec.get("shadow", "").strip() != args["password"]:
            opts.append(f"-p {q(args['password'])}")
            before.append("password: (old)")
            after.append("password: (new)")
        if args.get("password_lock") is not None:
            locked = sec.get("shadow", "").strip().startswith("!")
            if args["password_lock"] != locked:
                opts.append("-L" if args["password_lock"] else "-U")
        if not opts:
            return Plan(False, result=result)
        return Plan(True, [Command(f"usermod {' '.join(opts)} {q(name)}", no_log=True)], result=result,
                    diff={"before": "\n".join(before) + "\n", "after": "\n".join(after) + "\n"})


class GroupModule(Module):
    name = "group"
    doc = "Create, change or remove a local group."
    examples = "- group:\n    name: docker\n    system: true\n"
    args = {
        "name": Arg("str", required=True),
        "gid": Arg("int"),
        "state": Arg("str", default="present", choices=("present", "absent")),
        "system": Arg("bool", default=False),
        "non_unique": Arg("bool", default=False),
        "force": Arg("bool", default=False),
    }

    def probe(self, args: dict[str, Any]) -> str | None:
        return f"getent group {q(args['name'])}"

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        entry = (probe.stdout if probe else "").strip()
        name = args["name"]
        result = {"name": name, "state": args["state"]}
        if args["state"] == "absent":
            if entry:
                return Plan(True, [Command(f"groupdel {'-f ' if args['force'] else ''}{q(name)}")], result=result)
            return Plan(False, result=result)
        if not entry:
            opts = (f"-g {args['gid']} " if args.get("gid") is not None else "") + ("-r " if args["system"] else "")
            opts += "-o " if args["non_unique"] else ""
            return Plan(True, [Command(f"groupadd {opts}{q(name)}")], result=result,
                        diff={"before": f"group {name}: absent\n", "after": f"group {name}: present\n"})
        gid = entry.split(":")[2]
        result["gid"] = int(gid)
        if args.get("gid") is not None and str(args["gid"]) != gid:
            return Plan(True, [Command(f"groupmod -g {args['gid']} {'-o ' if args['non_unique'] else ''}{q(name)}")],
                        result=result, diff={"before": f"gid: {gid}\n", "after": f"gid: {args['gid']}\n"})
        return Plan(False, result=result)
