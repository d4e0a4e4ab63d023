"""Shared base of modules that edit a text file: read it in the probe, edit in Python, write atomically."""

from __future__ import annotations

import base64
import time
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules._files import FILE_ARGS, attribute_steps, parse_stat, target_mode
from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext, Upload
from hostprep.modules.shellutil import q, sections, stat_snippet

TEXT_ARGS = {
    "path": Arg("path", required=True, aliases=("dest", "destfile", "name")),
    "backup": Arg("bool", default=False),
    "create": Arg("bool", default=False),
    "validate": Arg("str"),
    "unsafe_writes": Arg("bool", default=False),
    **FILE_ARGS,
}


class TextFileModule(Module):
    """Subclasses implement `edit(args, text, exists) -> (new_text, msg)`."""

    def probe(self, args: dict[str, Any]) -> str | None:
        p = q(args["path"])
        return (f"echo '@@hostprep:stat@@'; {stat_snippet(args['path'], checksum=False)}\n"
                f"echo '@@hostprep:content@@'; [ -f {p} ] && base64 < {p}")

    def edit(self, args: dict[str, Any], text: str, exists: bool) -> tuple[str, str]:
        raise NotImplementedError

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        sec = sections(probe.stdout if probe else "")
        cur = parse_stat(sec.get("stat", ""))
        path = args["path"]
        if cur.get("kind") == "directory":
            return Plan(failed=True, msg=f"Path {path} is a directory !", result={"path": path})
        exists = cur.get("exists", False)
        raw = sec.get("content", "").strip()
        before = base64.b64decode(raw).decode("utf-8", "replace") if raw else ""
        if not exists and not args.get("create", False) and self.needs_file(args):
            return Plan(failed=True, msg=f"Destination {path} does not exist !", result={"path": path, "rc": 257})
        after, msg = self.edit(args, before, exists)
        steps: list[Any] = []
        result: dict[str, Any] = {"path": path, "msg": msg}
        diff = None
        if after != before and (exists or after or args.get("create")):
            if args["backup"] and exists:
                stamp = time.strftime("%Y-%m-%d@%H:%M:%S")
                backup = f"{path}.{stamp}~"
                steps.append(Command(f"cp -p {q(path)} {q(backup)}"))
                result["backup"] = backup
            mode = target_mode(args.get("mode"), int(cur.get("mode", "0644"), 8) if exists else 0o644, False)
            mode_str = format(mode, "04o") if mode is not None else None
            if args.get("validate"):
                if "%s" not in args["validate"]:
                    raise ModuleArgError("validate must contain %s", key="validate")
                tmp = f"{path}.hostprep-new"
                steps.append(Upload(after.encode(), tmp, mode=mode_str, owner=args.get("owner"),
                                    group=args.get("group")))
                steps.append(Command(args["validate"].replace("%s", q(tmp)) + f" || {{ rm -f {q(tmp)}; exit 1; }}"))
                steps.append(Command(f"mv -f {q(tmp)} {q(path)}"))
            else:
                steps.append(Upload(after.encode(), path, mode=mode_str, owner=args.get("owner"),
                                    group=args.get("group")))
            diff = {"before": before, "after": after, "before_header": f"{path} (content)",
                    "after_header": f"{path} (content)"}
        elif exists:
            attr, b, a = attribute_steps(path, cur, args.get("mode"), args.get("owner"), args.get("group"))
            steps += attr
            if attr:
                diff = {"before": b, "after": a}
        return Plan(bool(steps), steps, diff=diff, result=result)

    def needs_file(self, args: dict[str, Any]) -> bool:
        return args.get("state", "present") != "absent"
