"""Executable inventory scripts, as Ansible's script inventory plugin runs them.

The script is run with `--list` and must print JSON: groups as `{"hosts": [...], "vars": {...},
"children": [...]}` (or a bare list of hosts), and `_meta.hostvars` with every host's variables. A
script without `_meta` is asked `--host NAME` for each host, as Ansible does.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hostprep.errors import InputError

if TYPE_CHECKING:
    from hostprep.inventory.inventory import Inventory

TIMEOUT = 300


def is_script(path: Path) -> bool:
    """An executable file that is not a YAML/INI/JSON inventory (Ansible checks the executable bit)."""
    import os

    return path.is_file() and os.access(path, os.X_OK)


def _run(path: Path, *args: str) -> Any:
    try:
        proc = subprocess.run([str(path.resolve()), *args], capture_output=True, timeout=TIMEOUT, check=False,
                              cwd=path.parent)
    except OSError as exc:
        raise InputError(f"cannot run inventory script: {exc.strerror}", file=str(path)) from None
    except subprocess.TimeoutExpired:
        raise InputError(f"inventory script {' '.join(args)} did not finish in {TIMEOUT}s", file=str(path)) from None
    if proc.returncode != 0:
        stderr = proc.stderr.decode(errors="replace").strip()
        raise InputError(f"inventory script {' '.join(args)} exited {proc.returncode}: {stderr}", file=str(path))
    try:
        return json.loads(proc.stdout.decode("utf-8") or "{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"inventory script {' '.join(args)} did not print JSON: {exc}", file=str(path)) from None


def _mapping(value: Any, what: str, path: Path) -> Mapping:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"inventory script: {what} must be a mapping, got {type(value).__name__}", file=str(path))
    return value


def parse_script_inventory(inv: Inventory, path: Path) -> None:
    """Add the hosts, groups and variables the script at `path` reports."""
    data = _mapping(_run(path, "--list"), "the --list output", path)
    meta = data.get("_meta")
    hostvars = _mapping(meta.get("hostvars"), "_meta.hostvars", path) if isinstance(meta, Mapping) else None
    named: list[str] = []
    for name, body in data.items():
        if name == "_meta":
            continue
        group = str(name)
        if group not in ("all", "ungrouped"):
            inv.add_group(group)
        if isinstance(body, list):
            body = {"hosts": body}
        body = _mapping(body, f"group {group}", path)
        for host in body.get("hosts") or []:
            inv.add_host(str(host), group, source=path)
            named.append(str(host))
        for key, value in _mapping(body.get("vars"), f"vars of group {group}", path).items():
            inv.add_group(group).set_var(str(key), value, file=str(path))
        for child in body.get("children") or []:
            inv.link(group, str(child), file=str(path))
    for host in dict.fromkeys(named):  # a host only in _meta.hostvars is not a host (Ansible ignores it)
        if hostvars is None:
            values = _mapping(_run(path, "--host", host), f"--host {host} output", path)
        else:
            values = _mapping(hostvars.get(host), f"_meta.hostvars.{host}", path)
        inv.hosts[host].vars.update(values)
