"""ini_file: one option of one section of an INI file (community.general.ini_file's meaning)."""

from __future__ import annotations

import re
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules._files import path_info, path_info_after, with_path_info
from hostprep.modules._textfile import TEXT_ARGS, Edit, TextFileModule
from hostprep.modules.base import Arg, Plan, TaskContext

_OPT = re.compile(r"^\s*([^=:\s#;\[][^=:]*?)\s*(?:[=:]\s*(.*?))?\s*$")


def edit_ini(text: str, *, section: str | None, option: str | None, value: str | None, state: str,
             no_extra_spaces: bool, allow_no_value: bool, exclusive: bool = True) -> tuple[str, str]:
    new, msg = _edit_ini(text, section=section, option=option, value=value, state=state,
                         no_extra_spaces=no_extra_spaces, allow_no_value=allow_no_value, exclusive=exclusive)
    if state == "present" and section and not any(x.strip() == f"[{section}]" for x in text.splitlines()):
        msg = "section and option added" if option is not None else "only section added"
    return new, msg or "OK"  # community.general's ini_file says OK when nothing changes


def _edit_ini(text: str, *, section: str | None, option: str | None, value: str | None, state: str,
              no_extra_spaces: bool, allow_no_value: bool, exclusive: bool = True) -> tuple[str, str]:
    lines = text.splitlines()
    sep = "=" if no_extra_spaces else " = "
    start = 0
    if section:
        header = next((i for i, x in enumerate(lines) if x.strip() == f"[{section}]"), None)
        if header is None:
            if state == "absent":
                return text, ""
            if not lines or lines[-1].strip():  # (an empty file too: community.general's starts with a blank line)
                lines.append("")
            lines.append(f"[{section}]")
            header = len(lines) - 1
        start = header + 1
    end = next((i for i in range(start, len(lines)) if lines[i].strip().startswith("[")), len(lines))
    if option is None:
        if state == "absent" and section:
            del lines[start - 1:end]
            return "\n".join(lines) + ("\n" if lines else ""), "section removed"
        out = "\n".join(lines) + "\n"
        return out, "section added" if out != text else ""
    matches = []
    for i in range(start, end):
        m = _OPT.match(lines[i])
        if m and not lines[i].lstrip().startswith(("#", ";")) and m.group(1).strip() == option:
            matches.append(i)
    new_line = option if (value is None and allow_no_value) else f"{option}{sep}{value if value is not None else ''}"
    if state == "absent":
        if not matches:
            return text, ""
        for i in reversed(matches):
            del lines[i]
        return "\n".join(lines) + "\n", "option changed"
    if matches:
        first = matches[0]
        changed = lines[first] != new_line
        lines[first] = new_line
        if exclusive:
            for i in reversed(matches[1:]):
                del lines[i]
                changed = True
        out = "\n".join(lines) + "\n"
        return (out, "option changed") if changed else (text, "OK")
    insert = end
    while insert > start and not lines[insert - 1].strip():
        insert -= 1
    lines.insert(insert, new_line)
    return "\n".join(lines) + "\n", "option added"


class IniFileModule(TextFileModule):
    name = "ini_file"
    doc = "Set or remove one option in one section of an INI file (creates the file by default)."
    examples = ("- ini_file:\n    path: /etc/yum.repos.d/docker-ce.repo\n    section: docker-ce-test\n"
                "    option: enabled\n    value: '0'\n")
    args = {
        **{k: v for k, v in TEXT_ARGS.items() if k != "create"},
        "create": Arg("bool", default=True),
        "section": Arg("str"),
        "option": Arg("str", aliases=("key",)),
        "value": Arg("str"),
        "state": Arg("str", default="present", choices=("present", "absent")),
        "no_extra_spaces": Arg("bool", default=False),
        "allow_no_value": Arg("bool", default=False),
        "exclusive": Arg("bool", default=True),
    }

    def needs_file(self, args: dict[str, Any]) -> bool:
        return args["state"] == "present"

    def edit(self, args: dict[str, Any], text: str, exists: bool) -> tuple[str, str]:
        if args["state"] == "present" and args.get("option") and args.get("value") is None \
                and not args["allow_no_value"]:
            raise ModuleArgError("ini_file: value is required (or allow_no_value: true)", key="value")
        return edit_ini(text, section=args.get("section"), option=args.get("option"), value=args.get("value"),
                        state=args["state"], no_extra_spaces=args["no_extra_spaces"],
                        allow_no_value=args["allow_no_value"], exclusive=args["exclusive"])

    def shape(self, args: dict[str, Any], plan: Plan, ctx: TaskContext, edit: Edit) -> Plan:
        """community.general's keys: msg, path, diff always (a dict: the content, before/after text only under
        --diff), backup_file, and the path's owner/group/mode/size/state (after the change)."""
        diff = {"before": edit.before if ctx.diff else "", "after": edit.after if ctx.diff else "",
                "before_header": f"{edit.path} (content)", "after_header": f"{edit.path} (content)"}
        result: dict[str, Any] = {"msg": plan.result.get("msg") or "OK", "path": edit.path, "diff": diff}
        if "backup" in plan.result:
            result["backup_file"] = plan.result["backup"]
        if plan.steps:
            plan.steps = with_path_info(plan.steps, edit.path)
        else:
            result.update(path_info(edit.cur) if edit.exists else {"state": "absent"})
        if ctx.check_mode and plan.steps:  # nothing written: the path as it is
            result.update(path_info(edit.cur) if edit.exists else {"state": "absent"})
        plan.result, plan.diff = result, diff
        return plan

    def finish(self, args: dict[str, Any], plan: Plan, outputs: list, ctx: TaskContext) -> dict:
        result = dict(plan.result)
        result.update(path_info_after(outputs) or {})
        return result
