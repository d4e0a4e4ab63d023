"""blockinfile: a block of lines between marker lines, inserted, updated or removed."""

from __future__ import annotations

import re
from typing import Any

from hostprep.modules._textfile import TEXT_ARGS, Edit, TextFileModule, ansible_edit_result
from hostprep.modules.base import Arg, Plan, TaskContext


def edit_block(text: str, *, block: str, marker: str, marker_begin: str, marker_end: str, state: str,
               insertafter: str | None, insertbefore: str | None, append_newline: bool = False,
               prepend_newline: bool = False) -> tuple[str, str]:
    begin = marker.replace("{mark}", marker_begin)
    end = marker.replace("{mark}", marker_end)
    lines = text.splitlines()
    b = next((i for i, x in enumerate(lines) if x == begin), None)
    e = next((i for i, x in enumerate(lines) if x == end and (b is None or i > b)), None)
    body = block.splitlines() if block else []
    new_block = [begin, *body, end] if (state == "present" and body) else []
    if b is not None and e is not None:
        old = lines[b:e + 1]
        if old == new_block:
            return text, ""
        lines[b:e + 1] = new_block
        msg = "Block removed" if not new_block else "Block inserted"
    else:
        if not new_block:
            return text, ""
        pos = len(lines)
        if insertbefore == "BOF":
            pos = 0
        elif insertafter not in (None, "EOF"):
            hits = [i for i, x in enumerate(lines) if re.search(insertafter, x)]
            if hits:
                pos = hits[-1] + 1
        elif insertbefore not in (None, "EOF"):
            hits = [i for i, x in enumerate(lines) if re.search(insertbefore, x)]
            if hits:
                pos = hits[-1]
        if prepend_newline and pos > 0:
            new_block = ["", *new_block]
        if append_newline and pos < len(lines):
            new_block = [*new_block, ""]
        lines[pos:pos] = new_block
        msg = "Block inserted"
    out = "\n".join(lines)
    return (out + "\n" if out else ""), msg


class BlockInFileModule(TextFileModule):
    name = "blockinfile"
    doc = "Insert, update or remove a block of lines surrounded by marker lines."
    examples = "- blockinfile:\n    path: /etc/hosts\n    block: |\n      10.0.0.5 registry.local\n"
    args = {
        **TEXT_ARGS,
        "block": Arg("str", default="", aliases=("content",)),
        "marker": Arg("str", default="# {mark} ANSIBLE MANAGED BLOCK"),
        "marker_begin": Arg("str", default="BEGIN"),
        "marker_end": Arg("str", default="END"),
        "state": Arg("str", default="present", choices=("present", "absent")),
        "insertafter": Arg("str"),
        "insertbefore": Arg("str"),
        "append_newline": Arg("bool", default=False),
        "prepend_newline": Arg("bool", default=False),
    }
    mutually_exclusive = (("insertbefore", "insertafter"),)

    def needs_file(self, args: dict[str, Any]) -> bool:
        return False

    def shape(self, args: dict[str, Any], plan: Plan, ctx: TaskContext, edit: Edit) -> Plan:
        """Ansible's keys: msg ('File created' for a new file), diff always (see ansible_edit_result),
        backup_file when a backup was made; a missing file fails unless create (absent: 'not present')."""
        if not edit.exists and not args["create"]:
            if args["state"] == "absent":
                return Plan(False, result={"msg": f"File {edit.path} not present"})
            return Plan(failed=True, msg=f"Path {edit.path} does not exist !", result={"rc": 257})
        if not edit.exists and edit.content_changed:
            plan.result["msg"] = "File created"
        keys, diff = ansible_edit_result(args, plan, ctx, edit)
        result = {**keys, "diff": diff}
        if "backup" in plan.result:
            result["backup_file"] = plan.result["backup"]
        plan.result, plan.diff = result, diff
        return plan

    def edit(self, args: dict[str, Any], text: str, exists: bool) -> tuple[str, str]:
        if not exists and not args["create"]:
            return text, "File not present"
        return edit_block(text, block=args["block"], marker=args["marker"], marker_begin=args["marker_begin"],
                          marker_end=args["marker_end"], state=args["state"], insertafter=args.get("insertafter"),
                          insertbefore=args.get("insertbefore"), append_newline=args["append_newline"],
                          prepend_newline=args["prepend_newline"])
