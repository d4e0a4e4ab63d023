"""A module name is found by importing only its own file, and finds what the full registry finds."""

from __future__ import annotations

import subprocess
import sys

from hostprep.modules import get_module, registry


def test_lookup_by_file_agrees_with_the_registry() -> None:
    names = registry()
    for name, cls in names.items():
        get_module.cache_clear()
        assert get_module(name) is cls, name
    for missing in ("nosuchmodule", "ansible.posix.file", "ansible.builtin.base", "shellutil", "_runtime"):
        assert get_module(missing) is None, missing


def test_a_lookup_imports_only_that_module() -> None:
    code = ("import sys; from hostprep.modules import get_module; assert get_module('ansible.builtin.copy'); "
            "print(sorted(m for m in sys.modules if m.startswith('hostprep.modules.') and m.count('.') == 2))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = eval(out)  # noqa: S307 - our own print of a list of names
    assert "hostprep.modules.copy" in loaded
    assert not {"hostprep.modules.unarchive", "hostprep.modules.authorized_key", "hostprep.modules.dnf"} & set(loaded)
