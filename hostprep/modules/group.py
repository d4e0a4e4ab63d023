"""group: a local group with groupadd/groupmod/groupdel, probed with getent."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q


class GroupModule(Module):
    name = "group"
    doc = "Create, change (gid) or remove a local group."
    examples = "- group:\n    name: docker\n    system: true\n"
    gives_diff = False  # Ansible's module has no diff support: --diff shows and registers none
    args = {
        "name": Arg("str", required=True),
        "gid": Arg("int"),
        "state": Arg("str", default="present", choices=("present", "absent")),
        "system": Arg("bool", default=False),
        "non_unique": Arg("bool", default=False),
        "force": Arg("bool", default=False, doc="With state=absent: delete even if it is a user's primary group."),
    }

    def probe(self, args: dict[str, Any]) -> str | None:
        return f"getent group {q(args['name'])}"

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        entry = (probe.stdout if probe else "").strip().splitlines()
        fields = entry[0].split(":") if entry else []
        name = args["name"]
        result: dict[str, Any] = {"name": name, "state": args["state"]}
        if args["state"] == "absent":  # Ansible's result says system only for a present group
            if fields:
                return Plan(True, [Command(f"groupdel {'-f ' if args['force'] else ''}{q(name)}")], result=result,
                            diff={"before": f"group {name}: gid {fields[2]}\n", "after": f"group {name}: absent\n"})
            return Plan(False, result=result)
        result["system"] = args["system"]
        unique = "-o " if args["non_unique"] and args.get("gid") is not None else ""
        if not fields:
            opts = (f"-g {args['gid']} " if args.get("gid") is not None else "") + unique
            opts += "-r " if args["system"] else ""
            after = f"gid {args['gid']}" if args.get("gid") is not None else "present"
            if args.get("gid") is not None:
                result["gid"] = args["gid"]
            return Plan(True, [Command(f"groupadd {opts}{q(name)}")], result=result,
                        diff={"before": f"group {name}: absent\n", "after": f"group {name}: {after}\n"})
        gid = int(fields[2])
        result["gid"] = gid
        if args.get("gid") is not None and args["gid"] != gid:
            result["gid"] = args["gid"]
            return Plan(True, [Command(f"groupmod -g {args['gid']} {unique}{q(name)}")], result=result,
                        diff={"before": f"group {name}: gid {gid}\n", "after": f"group {name}: gid {args['gid']}\n"})
        return Plan(False, result=result)

    def finish(self, args: dict[str, Any], plan: Plan, outputs: list, ctx: TaskContext) -> dict:
        result = dict(plan.result)
        if outputs and outputs[-1].rc != 0:
            result.update(rc=outputs[-1].rc, msg=outputs[-1].stderr.strip())
        elif args["state"] == "present" and "gid" not in result and outputs:
            entry = ctx.probe(f"getent group {q(args['name'])}").stdout.split(":")
            if len(entry) > 2:
                result["gid"] = int(entry[2])
        return result
