"""replace: replace every match of a regexp in a file (Python `re`, computed on the controller)."""

from __future__ import annotations

import re
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules._files import FILE_ARGS, attribute_steps, parse_stat
from hostprep.modules._textfile import TextFileModule
from hostprep.modules.base import Arg, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import sections

ATTRS_CHANGED = "ownership, perms or SE linux context changed"


def replace_text(text: str, regexp: str, replace: str, after: str | None = None,
                 before: str | None = None) -> tuple[str, str]:
    """Ansible's replace on `text`: (new text, msg); msg is '' when nothing changes."""
    pattern = ""
    if after and before:
        pattern = f"{after}(?P<subsection>.*?){before}"
    elif after:
        pattern = f"{after}(?P<subsection>.*)"
    elif before:
        pattern = f"(?P<subsection>.*){before}"
    start, end = 0, len(text)
    if pattern:
        match = re.search(pattern, text, re.DOTALL)
        if not match:
            return text, f"Pattern for before/after params did not match the given file: {pattern}"
        start, end = match.start("subsection"), match.end("subsection")
    section = text[start:end]
    try:
        new, count = re.subn(re.compile(regexp, re.MULTILINE), replace, section)
    except re.error as exc:
        raise ModuleArgError(f"Unable to process replace due to error: {exc}", key="regexp") from None
    if count == 0 or new == section:
        return text, ""
    return text[:start] + new + text[end:], f"{count} replacements made"


class ReplaceModule(TextFileModule):
    name = "replace"
    doc = ("Replace all matches of a Python regexp in a file (optionally only after/before other patterns); "
           "backrefs (\\1, \\g<name>) work in replace.")
    examples = ("- replace:\n    path: /etc/hosts\n    regexp: '(\\s+)old\\.host\\.name(\\s+.*)?$'\n"
                "    replace: '\\1new.host.name\\2'\n")
    args = {
        "path": Arg("path", required=True, aliases=("dest", "destfile", "name"), doc="The file to edit."),
        "regexp": Arg("str", required=True, doc="Python regular expression (MULTILINE) to look for."),
        "replace": Arg("str", default="", doc="Replacement (may use backreferences); empty removes the match."),
        "after": Arg("str", doc="Only replace after the first match of this pattern (DOTALL)."),
        "before": Arg("str", doc="Only replace before the last match of this pattern (DOTALL)."),
        "backup": Arg("bool", default=False, doc="Keep a timestamped copy of the old file (backup_file)."),
        "validate": Arg("str", doc="Command that checks the new file before it replaces path (%s = the file)."),
        "encoding": Arg("str", default="utf-8", choices=("utf-8", "utf8"), doc="Only UTF-8 is supported."),
        "unsafe_writes": Arg("bool", default=False),
        **FILE_ARGS,
    }

    def edit(self, args: dict[str, Any], text: str, exists: bool) -> tuple[str, str]:
        return replace_text(text, args["regexp"], args["replace"], args.get("after"), args.get("before"))

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        plan = super().plan(args, probe, ctx)
        path = args["path"]
        if plan.failed:
            if "directory" in plan.msg:
                plan.result["rc"] = 256
            else:
                plan.msg = f"Path {path} does not exist !"
                plan.result["rc"] = 257
            return plan
        result = plan.result
        result.pop("path", None)
        result["rc"] = 0
        if "backup" in result:
            result["backup_file"] = result.pop("backup")
        msg = result.get("msg", "")
        if msg.startswith("Pattern for"):
            return Plan(False, result=result)
        cur = parse_stat(sections(probe.stdout if probe else "").get("stat", ""))
        attrs, _b, _a = attribute_steps(path, cur, args.get("mode"), args.get("owner"), args.get("group"))
        if attrs:  # Ansible's check_file_attrs wording
            msg = f"{msg} and {ATTRS_CHANGED}" if msg else ATTRS_CHANGED
        result["msg"] = msg
        if isinstance(plan.diff, dict) and "before_header" in plan.diff:
            plan.diff.update(before_header=path, after_header=path)
        return plan
