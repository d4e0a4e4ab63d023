"""--diff rendering: unified diffs for content, before/after lines for state."""

from __future__ import annotations

import difflib
from typing import Any


def render_diff(diff: Any) -> str:
    items = diff if isinstance(diff, list) else [diff]
    out = []
    for d in items:
        if not isinstance(d, dict):
            continue
        before, after = d.get("before", ""), d.get("after", "")
        if isinstance(before, (dict, list)) or isinstance(after, (dict, list)):
            before, after = _yamlish(before), _yamlish(after)
        before, after = str(before), str(after)
        if before == after:
            continue
        lines = difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True),
            fromfile=str(d.get("before_header", "before")), tofile=str(d.get("after_header", "after")),
        )
        out.append("".join(line if line.endswith("\n") else line + "\n" for line in lines))
    return "".join(out)


def _yamlish(value: Any) -> str:
    import yaml

    return yaml.safe_dump(value, default_flow_style=False, sort_keys=True)
