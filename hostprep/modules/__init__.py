"""Modules, one file each; looked up by short name, `ansible.builtin.NAME` or `ansible.legacy.NAME`.

A lookup imports only the file the name points to (a run imports the modules its tasks use, not
all of them: some pull in tarfile, zipfile or urllib); the full registry is built only for a name
that is not found that way, and for listings (`hostprep doc`, "did you mean").
"""

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


# names whose file is not named after them (tests/unit/test_module_lookup.py checks this against registry())
_FILES = {"assert": "assert_", "systemd_service": "systemd", "hostprep.runtime.image": "runtime_image",
          "hostprep.runtime.container": "runtime_container"}
_PREFIXES = ("ansible.builtin.", "ansible.legacy.", "ansible.posix.")


def _names(cls: type[Module]) -> set[str]:
    out: set[str] = set()
    for n in (cls.name, *cls.aliases):
        out |= {n, f"ansible.builtin.{n}", f"ansible.legacy.{n}"}
        if getattr(cls, "collection", None):
            out.add(f"{cls.collection}.{n}")
    return out


@cache
def get_module(name: str) -> type[Module] | None:
    """The module class for `name`, or None if hostprep has no such module."""
    short = next((name[len(p):] for p in _PREFIXES if name.startswith(p)), name)
    file = _FILES.get(short, short)
    if file.isidentifier() and not file.startswith("_") and file not in _NOT_MODULES:
        try:
            mod = importlib.import_module(f"{__name__}.{file}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{file}":
                raise
        else:
            for obj in vars(mod).values():
                if isinstance(obj, type) and issubclass(obj, Module) and obj is not Module and obj.name \
                        and name in _names(obj):
                    return obj
    return registry().get(name)


def module_names() -> list[str]:
    """Short names of every module, sorted."""
    return sorted({cls.name for cls in registry().values()})
