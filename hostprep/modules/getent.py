"""getent: read a NSS database (passwd, group, hosts, services...) into ansible_facts.getent_<database>."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import join, sections

COLON = ("passwd", "shadow", "group", "gshadow")
ERRORS = {1: "Missing arguments, or database unknown.",
          2: "One or more supplied key could not be found in the database.",
          3: "Enumeration not supported on this database."}


def parse_getent(out: str, split: str | None) -> dict[str, Any]:
    """Ansible's shape: first field -> the other fields (a list of such lists when a key repeats)."""
    tree: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for line in out.splitlines():
        record = line.split(split)
        if not record:
            continue
        key = record[0]
        if key in seen:
            if seen[key] == 1:
                tree[key] = [tree[key]]
            tree[key].append(record[1:])
            seen[key] += 1
        else:
            tree[key] = record[1:]
            seen[key] = 1
    return tree


class GetentModule(Module):
    name = "getent"
    doc = "Run getent on the host and return the entries as ansible_facts.getent_<database> (read-only)."
    examples = ("- getent:\n    database: passwd\n    key: root\n- debug:\n    var: ansible_facts.getent_passwd.root\n")
    args = {
        "database": Arg("str", required=True, doc="passwd, group, hosts, services, ..."),
        "key": Arg("str", doc="One key to look up (default: the whole database)."),
        "service": Arg("str", doc="NSS service to ask (getent -s)."),
        "split": Arg("str", doc="Field separator (default ':' for passwd/shadow/group/gshadow, else whitespace)."),
        "fail_key": Arg("bool", default=True, doc="Fail when the key is missing (false: return it as null)."),
    }

    def probe(self, args: dict[str, Any]) -> str | None:
        words = ["getent", args["database"]] + ([args["key"]] if args.get("key") is not None else [])
        words += ["-s", args["service"]] if args.get("service") else []
        return (f"echo '@@hostprep:out@@'; {join(words)}; rc=$?\necho '@@hostprep:rc@@'\n"
                "command -v getent >/dev/null 2>&1 && echo $rc || echo 127\ntrue")

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        sec = sections(probe.stdout if probe else "")
        rc = int(sec.get("rc", "1").strip() or 1)
        db = args["database"]
        split = args.get("split")
        if split is None and db in COLON:
            split = ":"
        tree = f"getent_{db}"
        if rc == 0:
            return Plan(False, result={"ansible_facts": {tree: parse_getent(sec.get("out", ""), split)}})
        if rc == 2 and not args["fail_key"]:
            return Plan(False, result={"ansible_facts": {tree: {args.get("key"): None}}, "msg": ERRORS[2]})
        if rc == 127:
            return Plan(failed=True, msg="Failed to find required executable \"getent\" in paths")
        return Plan(failed=True, msg=ERRORS.get(rc, "Unexpected failure!"))
