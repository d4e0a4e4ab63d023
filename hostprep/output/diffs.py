"""--diff rendering as Ansible's default callback prints it: unified diffs with 3 lines of context, headed
`before: PATH` / `after: PATH` when the module names them, state (dicts) as indented JSON, a note for a
last line without a newline, and a blank line after each diff."""

from __future__ import annotations

import difflib
import json
from typing import Any

_NOTES = {"dst_binary": "diff skipped: destination file appears to be binary\n",
          "src_binary": "diff skipped: source file appears to be binary\n",
          "dst_larger": "diff skipped: destination file size is greater than {}\n",
          "src_larger": "diff skipped: source file size is greater than {}\n"}


def render_diff(diff: Any) -> str:
    items = diff if isinstance(diff, list) else [diff]
    out: list[str] = []
    for d in items:
        if not isinstance(d, dict):
            continue
        for key, note in _NOTES.items():
            if key in d:
                out.append(note.format(d[key]))
        if "before" in d and "after" in d:
            before_lines = _text(d["before"]).splitlines(True)
            after_lines = _text(d["after"]).splitlines(True)
            for lines in (before_lines, after_lines):
                if lines and not lines[-1].endswith("\n"):
                    lines[-1] += "\n\\ No newline at end of file\n"
            fromfile = f"before: {d['before_header']}" if "before_header" in d else "before"
            tofile = f"after: {d['after_header']}" if "after_header" in d else "after"
            lines = list(difflib.unified_diff(before_lines, after_lines, fromfile=fromfile, tofile=tofile, n=3))
            if lines:
                out.extend(lines)
                out.append("\n")
        if "prepared" in d:
            out.append(str(d["prepared"]))
    return "".join(out)


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, indent=4, separators=(",", ": ")) + "\n"
    if value is None:
        return ""
    return str(value)
