"""lineinfile: make sure one line is (or is not) in a file, with Ansible's regexp/insert rules."""

from __future__ import annotations

import re
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules._textfile import TEXT_ARGS, Edit, TextFileModule, ansible_edit_result
from hostprep.modules.base import Arg, Plan, TaskContext


def edit_lines(text: str, *, line: str | None, regexp: str | None, search_string: str | None, state: str,
               insertafter: str | None, insertbefore: str | None, backrefs: bool, firstmatch: bool) -> tuple[str, str]:
    """The new text and Ansible's message ('line added', 'line replaced', 'N line(s) removed', '')."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"

    def matches(item: str) -> bool:
        body = item.rstrip("\r\n")
        if regexp is not None:
            return re.search(regexp, body) is not None
        if search_string is not None:
            return search_string in body
        return body == line

    if state == "absent":
        kept = [x for x in lines if not matches(x)]
        removed = len(lines) - len(kept)
        return ("".join(kept) if removed else text), (f"{removed} line(s) removed" if removed else "")
    assert line is not None
    indices = [i for i, x in enumerate(lines) if matches(x)]
    if indices:
        idx = indices[0] if firstmatch else indices[-1]
        new = line
        if backrefs and regexp is not None:
            m = re.search(regexp, lines[idx].rstrip("\r\n"))
            new = m.expand(line) if m else line
        if lines[idx].rstrip("\r\n") == new:
            return text, ""
        lines[idx] = new + "\n"
        return "".join(lines), "line replaced"
    if backrefs:
        return text, ""
    if any(x.rstrip("\r\n") == line for x in lines):
        return text, ""
    pos = len(lines)
    if insertbefore == "BOF":
        pos = 0
    elif insertafter not in (None, "EOF"):
        hits = [i for i, x in enumerate(lines) if re.search(insertafter, x.rstrip("\r\n"))]
        if hits:
            pos = (hits[0] if firstmatch else hits[-1]) + 1
    elif insertbefore not in (None, "EOF"):
        hits = [i for i, x in enumerate(lines) if re.search(insertbefore, x.rstrip("\r\n"))]
        if hits:
            pos = hits[0] if firstmatch else hits[-1]
    lines.insert(pos, line + "\n")
    return "".join(lines), "line added"


class LineInFileModule(TextFileModule):
    name = "lineinfile"
    doc = "Ensure a line is in a file (replacing the last line that matches regexp), or remove matching lines."
    examples = ("- lineinfile:\n    path: /etc/sysconfig/docker\n    regexp: '^OPTIONS='\n"
                "    line: OPTIONS=--log-driver=journald\n")
    args = {
        **TEXT_ARGS,
        "line": Arg("str", aliases=("value",)),
        "regexp": Arg("str", aliases=("regex",)),
        "search_string": Arg("str"),
        "state": Arg("str", default="present", choices=("present", "absent")),
        "insertafter": Arg("str"),
        "insertbefore": Arg("str"),
        "backrefs": Arg("bool", default=False),
        "firstmatch": Arg("bool", default=False),
    }
    mutually_exclusive = (("insertbefore", "insertafter"), ("regexp", "search_string"),
                          ("backrefs", "search_string"))

    def edit(self, args: dict[str, Any], text: str, exists: bool) -> tuple[str, str]:
        if args["state"] == "present" and args.get("line") is None:
            raise ModuleArgError("lineinfile: line is required with state=present", key="line")
        if args["state"] == "absent" and args.get("line") is None and args.get("regexp") is None \
                and args.get("search_string") is None:
            raise ModuleArgError("lineinfile: one of line, regexp, search_string is required", key="line")
        if args["backrefs"] and args.get("regexp") is None:
            raise ModuleArgError("lineinfile: backrefs needs regexp", key="backrefs")
        return edit_lines(text, line=args.get("line"), regexp=args.get("regexp"),
                          search_string=args.get("search_string"), state=args["state"],
                          insertafter=args.get("insertafter"), insertbefore=args.get("insertbefore"),
                          backrefs=args["backrefs"], firstmatch=args["firstmatch"])

    def shape(self, args: dict[str, Any], plan: Plan, ctx: TaskContext, edit: Edit) -> Plan:
        """Ansible's keys: msg, backup ('' or the backup's name), diff always (see ansible_edit_result), and
        found (lines removed) with state=absent; an absent line in a missing file is 'file not present'."""
        absent = args["state"] == "absent"
        if absent and not edit.exists:
            return Plan(False, result={"msg": "file not present"})
        keys, diff = ansible_edit_result(args, plan, ctx, edit)
        result = {**keys, "backup": plan.result.get("backup", ""), "diff": diff}
        if absent:
            said = plan.result.get("msg", "")
            result["found"] = int(said.split()[0]) if said.endswith("removed") else 0
        plan.result, plan.diff = result, diff
        return plan
