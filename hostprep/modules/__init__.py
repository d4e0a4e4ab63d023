"""Modules, one file each; looked up by short name, `ansible.builtin.NAME` or `ansible.legacy.NAME`."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from hostprep.modules.base import Module

_NOT_MODULES = {"base", "argspec", "apply", "shellutil"}


@cache
def registry() -> dict[str, type[Module]]:
    """Every module class by each name it answers to."""
    found: dict[str, type[Module]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name in _NOT_MODULES or info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, Module) and obj is not Module and obj.name:
                for n in (obj.name, *obj.aliases):
                    found[n] = obj
                    found[f"ansible.builtin.{n}"] = obj
                    found[f"ansible.legacy.{n}"] = obj
                    if getattr(obj, "collection", None):  # ansible.posix.authorized_key, ...
                        found[f"{obj.collection}.{n}"] = obj
    return found


def get_module(name: str) -> type[Module] | None:
    """The module class for `name`, or None if hostprep has no such module."""
    return registry().get(name)


def module_names() -> list[str]:
    """Short names of every module, sorted."""
    return sorted({cls.name for cls in registry().values()})
