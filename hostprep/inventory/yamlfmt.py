"""Ansible's YAML inventory format (also JSON, which is YAML)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hostprep.errors import InputError
from hostprep.inventory.ranges import expand_hosts
from hostprep.yamlsource import PosDict

if TYPE_CHECKING:
    from hostprep.inventory.inventory import Inventory

GROUP_KEYS = {"hosts", "vars", "children"}


def _where(node: Any, key: Any = None) -> dict:
    if isinstance(node, PosDict):
        return {"file": node.file, "line": node.line_of(key) if key is not None else node.line}
    return {}


def _section(body: Any, key: str, group: str, file: str) -> Any:
    """A group's hosts/vars/children: a mapping, null, or (as Ansible allows) one name as a string."""
    value = body[key]
    if isinstance(value, str):
        return {value: None}
    if value is not None and not isinstance(value, Mapping):
        raise InputError(f"{key} of group {group} must be a mapping", key=key,
                         **(_where(body, key) or {"file": file}))
    return value


def _parse_group(inv: Inventory, name: str, body: Any, file: str, where: dict) -> str:
    """Add group `name` and what its body holds, key by key in the file's order, as Ansible does."""
    group = inv.add_group(name)
    if body is None:
        return name
    if not isinstance(body, Mapping):
        raise InputError(f"group {name} must be a mapping with hosts/vars/children", key=name,
                         **(where or {"file": file}))
    for key in body:
        if key not in GROUP_KEYS:
            raise InputError(f"unknown key in group {name} (expected hosts, vars, children)", key=str(key),
                             **(_where(body, key) or {"file": file}))
    sections = {key: _section(body, key, name, file) for key in body}
    for key, value in sections.items():
        if value is None:
            continue
        if key == "vars":
            for var, var_value in value.items():
                group.set_var(str(var), var_value, file=file, line=_where(value, var).get("line"))
        elif key == "children":
            for child, child_body in value.items():
                at = _where(value, child)
                _parse_group(inv, str(child), child_body, file, at)
                inv.link(name, str(child), file=file, line=at.get("line"))
        else:
            for pattern, hostvars in value.items():
                at = _where(value, pattern) or {"file": file}
                if not isinstance(pattern, str):
                    raise InputError(f"host name {pattern!r} of group {name} must be a string: quote it "
                                     f"(YAML read it as a {type(pattern).__name__})", key=str(pattern), **at)
                if hostvars is not None and not isinstance(hostvars, Mapping):
                    raise InputError(f"variables of host {pattern} must be a mapping", key=str(pattern), **at)
                names, port = expand_hosts(pattern, **at)
                for host_name in names:
                    new = host_name not in inv.hosts
                    host = inv.add_host(host_name, name)
                    if port is not None and new:  # as Ansible: a port given again for a known host is ignored
                        host.vars["ansible_port"] = port
                    host.vars.update(dict(hostvars or {}))
    return name


def parse_yaml_inventory(inv: Inventory, data: Any, file: str) -> None:
    """Add a YAML inventory's content to `inv`."""
    if not isinstance(data, Mapping):
        raise InputError("a YAML inventory must be a mapping of groups", file=file)
    for name, body in data.items():
        if isinstance(body, Mapping) and set(body) - GROUP_KEYS and name != "all":
            # a plugin config (e.g. `plugin: ...`) or a stray mapping
            raise InputError("not an inventory group (expected hosts, vars, children)", key=str(name),
                             **(_where(data, name) or {"file": file}))
        _parse_group(inv, str(name), body, file, _where(data, name))
