"""Version comparison for the `version` test and filter (Ansible's loose comparison)."""

from __future__ import annotations

import operator
import re

_OPS = {
    "eq": operator.eq, "==": operator.eq, "=": operator.eq, "ne": operator.ne, "!=": operator.ne,
    "<>": operator.ne, "lt": operator.lt, "<": operator.lt, "le": operator.le, "<=": operator.le,
    "gt": operator.gt, ">": operator.gt, "ge": operator.ge, ">=": operator.ge,
}


def loose_key(version: str) -> list[tuple[int, object]]:
    """Split '1.10.0-rc1' into comparable parts: numbers compare as numbers, words as text."""
    parts = [p for p in re.split(r"(\d+|[a-z]+|\.)", version.lower()) if p and p != "."]
    return [(0, int(p)) if p.isdigit() else (1, p) for p in parts if p not in ("-", "_", "+", "~")]


def compare_versions(a: str, b: str, op: str = "eq") -> bool:
    if op not in _OPS:
        raise ValueError(f"unknown version operator {op!r}")
    ka, kb = loose_key(a), loose_key(b)
    # pad so that 1.0 == 1.0.0
    width = max(len(ka), len(kb))
    pad = (0, 0)
    ka += [pad] * (width - len(ka))
    kb += [pad] * (width - len(kb))
    return _OPS[op](ka, kb)
