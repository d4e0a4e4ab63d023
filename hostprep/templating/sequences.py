"""List helpers that both the filters and the lookups use (a leaf: it imports neither)."""

from __future__ import annotations

from collections.abc import Iterable


def f_flatten(value: Iterable, levels: int | None = None, skip_nulls: bool = True) -> list:
    out: list = []
    for item in value:
        if item in (None, "None", "null") and skip_nulls:
            continue
        if isinstance(item, (list, tuple)):
            if levels is None:
                out.extend(f_flatten(item, None, skip_nulls))
            elif levels >= 1:
                out.extend(f_flatten(item, levels - 1, skip_nulls) if levels > 1 else list(item))
            else:
                out.append(item)
        else:
            out.append(item)
    return out
