"""Shared base of modules that edit a text file: read it in the probe, edit in Python, write atomically."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules._files import FILE_ARGS, attribute_steps, ids_probe, numeric_owner_diff, parse_stat, target_mode
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


ATTRS_CHANGED = "ownership, perms or SE linux context changed"


@dataclass
class Edit:
    """What a text edit found and made: the file's text before and after, whether it existed, its stat."""

    path: str
    before: str
    after: str
    exists: bool
    content_changed: bool
    cur: dict[str, Any]
    ids: str = ""  # the probe's ids section: the uid/gid an owner/group name resolves to (_files.ids_probe)


def attr_diff(args: dict[str, Any], edit: Edit) -> dict[str, Any]:
    """Ansible's '(file attributes)' diff: the mode/owner/group the task changes on the file (a new file
    starts at 0644, as Ansible's atomic move of a temporary file leaves it)."""
    cur = edit.cur if edit.exists else {"exists": True, "mode": "0644"}
    owner = args.get("owner") if edit.exists else None
    group = args.get("group") if edit.exists else None
    _steps, before, after = attribute_steps(edit.path, cur, args.get("mode"), owner, group)
    numeric_owner_diff(before, after, cur, edit.ids)  # ids, as Ansible's set_owner/group_if_different diff
    out: dict[str, Any] = {}
    if before or after:
        out.update(before=before, after=after)
    out.update(before_header=f"{edit.path} (file attributes)", after_header=f"{edit.path} (file attributes)")
    return out


def ansible_edit_result(args: dict[str, Any], plan: Plan, ctx: TaskContext, edit: Edit) -> tuple[dict[str, Any], Any]:
    """lineinfile's and blockinfile's `msg` and `diff` as Ansible's give them: the diff is always there, a
    list of the content diff (before/after text only under --diff) and the file-attributes diff; a file that
    check mode would create gives the content diff alone."""
    content = {"before": edit.before if ctx.diff else "", "after": edit.after if ctx.diff else "",
               "before_header": f"{edit.path} (content)", "after_header": f"{edit.path} (content)"}
    if ctx.check_mode and not edit.exists:
        return {"msg": plan.result.get("msg", "")}, content
    attrs = attr_diff(args, edit)
    msg = plan.result.get("msg", "")
    if "before" in attrs:
        msg = f"{msg} and {ATTRS_CHANGED}" if msg else ATTRS_CHANGED
    return {"msg": msg}, [content, attrs]


class TextFileModule(Module):
    """Subclasses implement `edit(args, text, exists) -> (new_text, msg)`."""
    reports_command_output = False

    def probe(self, args: dict[str, Any]) -> str | None:
        p = q(args["path"])
        ids = ""
        if args.get("owner") is not None or args.get("group") is not None:
            ids = ids_probe(args.get("owner"), args.get("group")) + "\n"
        return (f"echo '@@hostprep:stat@@'; {stat_snippet(args['path'], checksum=False)}\n{ids}"
                f"echo '@@hostprep:content@@'; [ -f {p} ] && base64 < {p}")

    def edit(self, args: dict[str, Any], text: str, exists: bool) -> tuple[str, str]:
        raise NotImplementedError

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        sec = sections(probe.stdout if probe else "")
        cur = parse_stat(sec.get("stat", ""))
        path = args["path"]
        if cur.get("kind") == "directory":
            return Plan(failed=True, msg=f"Path {path} is a directory !", result={"rc": 256})
        exists = cur.get("exists", False)
        raw = sec.get("content", "").strip()
        before = base64.b64decode(raw).decode("utf-8", "replace") if raw else ""
        if not exists and not args.get("create", False) and self.needs_file(args):
            return Plan(failed=True, msg=f"Destination {path} does not exist !", result={"rc": 257})
        after, msg = self.edit(args, before, exists)
        steps: list[Any] = []
        result: dict[str, Any] = {"path": path, "msg": msg}
        diff = None
        content_changed = after != before and (exists or bool(after) or bool(args.get("create")))
        if content_changed:
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
                numeric_owner_diff(b, a, cur, sec.get("ids", ""))
                diff = {"before": b, "after": a}
        plan = Plan(bool(steps), steps, diff=diff, result=result)
        return self.shape(args, plan, ctx, Edit(path, before, after, exists, content_changed, cur,
                                                sec.get("ids", "")))


    def shape(self, args: dict[str, Any], plan: Plan, ctx: TaskContext, edit: Edit) -> Plan:
        """The module's own result keys (default: path, msg, backup as planned)."""
        return plan

    def needs_file(self, args: dict[str, Any]) -> bool:
        return args.get("state", "present") != "absent"
