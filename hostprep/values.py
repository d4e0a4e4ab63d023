"""Value helpers shared by every layer (templating, transport, modules, executor).

A leaf module: it imports nothing from hostprep but `errors`, so the transport and the
templating may use Ansible's value rules without depending on the modules package.
"""

from __future__ import annotations

from typing import Any

from hostprep.errors import ModuleArgError

BOOL_TRUE = frozenset({"yes", "on", "1", "true", "y", "t"})
BOOL_FALSE = frozenset({"no", "off", "0", "false", "n", "f", ""})


def to_bool(value: Any, name: str = "value") -> bool:
    """Ansible's boolean conversion: yes/no, on/off, true/false, 1/0 (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in BOOL_TRUE:
            return True
        if low in BOOL_FALSE:
            return False
    raise ModuleArgError(f"{value!r} is not a valid boolean", key=name)
