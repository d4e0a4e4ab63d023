"""tempfile: make a unique temporary file or directory on the host (mktemp), returning its path."""

from __future__ import annotations

import posixpath
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules._files import parse_stat
from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import STAT_SNIPPET, q, sections
from hostprep.transport.base import RunResult


class TempfileModule(Module):
    name = "tempfile"
    doc = ("Create a temporary file or directory (mktemp) named PREFIX + random + SUFFIX in path (default $TMPDIR "
           "or /tmp) and return its path. Always changed; check mode skips it, as in Ansible.")
    examples = "- tempfile:\n    state: directory\n    suffix: build\n  register: build_dir\n"
    supports_check_mode = False
    args = {
        "state": Arg("str", default="file", choices=("file", "directory")),
        "path": Arg("path", doc="Directory to create it in (default: $TMPDIR or /tmp)."),
        "prefix": Arg("str", default="ansible."),
        "suffix": Arg("str", default=""),
    }

    def validate(self, raw: Any) -> dict[str, Any]:
        args = super().validate(raw)
        for key in ("prefix", "suffix"):
            value = args[key] or ""
            if value and value != posixpath.basename(value):
                raise ModuleArgError(f"{key} must be a valid file name component, got {value!r}", key=key)
        return args

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        where = q(args["path"]) if args.get("path") else '"${TMPDIR:-/tmp}"'
        template = q(f"{args['prefix'] or ''}XXXXXXXX")
        flag = "-d " if args["state"] == "directory" else ""
        suffix = f" --suffix={q(args['suffix'])}" if args["suffix"] else ""
        cmd = (f"tmp=$(mktemp {flag}-p {where} {template}{suffix}) || exit 1\necho \"path=$tmp\"\n"
               f"echo '@@hostprep:stat@@'\n" + STAT_SNIPPET.replace("{path}", '"$tmp"').replace("{checksum}", "no"))
        return Plan(True, [Command(cmd)])

    def finish(self, args: dict[str, Any], plan: Plan, outputs: list[RunResult], ctx: TaskContext) -> dict:
        if not outputs or outputs[-1].rc != 0:
            return {"msg": outputs[-1].stderr.strip() if outputs else "mktemp did not run"}
        out = outputs[-1].stdout
        path = out.split("\n", 1)[0].partition("=")[2]
        cur = parse_stat(sections(out).get("stat", ""))
        return {"path": path, "state": args["state"], "mode": cur.get("mode"), "owner": cur.get("owner"),
                "group": cur.get("group"), "uid": cur.get("uid"), "gid": cur.get("gid"), "size": cur.get("size")}
