"""Value typing of INI inventories, as Ansible's INI plugin does it."""

from __future__ import annotations

import ast
import warnings
from typing import Any


def _coerce(value: Any) -> Any:
    """Ansible's coercion of what literal_eval gave: tuples and sets become lists, bytes text,
    complex numbers and `...` their text; containers are walked."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_coerce(v) for v in value]
    if isinstance(value, dict):
        return {_coerce(k): _coerce(v) for k, v in value.items()}
    if value is Ellipsis:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="surrogateescape")
    return value


def parse_ini_value(text: str) -> Any:
    """A Python literal if the text is one (numbers, quoted strings, lists, dicts, True/False/None), else the text.

    Ansible leaves `yes`/`no`/`true` as strings here; only Python's own literals are typed.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return text
    return _coerce(value)
