"""Value typing of INI inventories, as Ansible's INI plugin does it."""

from __future__ import annotations

import ast
from typing import Any


def parse_ini_value(text: str) -> Any:
    """A Python literal if the text is one (numbers, quoted strings, lists, dicts, True/False/None), else the text.

    Ansible leaves `yes`/`no`/`true` as strings here; only Python's own literals are typed.
    """
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return text
    if isinstance(value, (set, tuple, complex, bytes)):
        return text if not isinstance(value, tuple) else list(value)
    return value
