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


def _parse_group(inv: Inventory, name: str, body: Any, file: str, parent: str | None, where: dict) -> None:
    group = inv.add_group(name)
    if parent:
        inv.link(parent, name, file=file, line=where.get("line"))
    if body is None:
        return
    if not isinstance(body, Mapping):
        raise InputError(f"group {name} must be a mapping with hosts/vars/children", key=name,
                         **(where or {"file": file}))
    for key in body:
        if key not in GROUP_KEYS:
            raise InputError(f"unknown key in group {name} (expected hosts, vars, children)", key=str(key),
                             **(_where(body, key) or {"file": file}))
    hosts = body.get("hosts")
    if hosts is not None:
        if not isinstance(hosts, Mapping):
            raise InputError(f"hosts of group {name} must be a mapping", key="hosts",
                             **(_where(body, "hosts") or {"file": file}))
        for pattern, hostvars in hosts.items():
            if hostvars is not None and not isinstance(hostvars, Mapping):
                raise InputError(f"variables of host {pattern} must be a mapping", key=str(pattern),
                                 **(_where(hosts, pattern) or {"file": file}))
            names, port = expand_hosts(str(pattern), **(_where(hosts, pattern) or {"file": file}))
            for host_name in names:
                host = inv.add_host(host_name, name)
                if port is not None:
                    host.vars["ansible_port"] = port
                host.vars.update(dict(hostvars or {}))
    gvars = body.get("vars")
    if gvars is not None:
        if not isinstance(gvars, Mapping):
            raise InputError(f"vars of group {name} must be a mapping", key="vars",
                             **(_where(body, "vars") or {"file": file}))
        group.vars.update(dict(gvars))
    children = body.get("children")
    if children is not None:
        if not isinstance(children, Mapping):
            raise InputError(f"children of group {name} must be a mapping", key="children",
                             **(_where(body, "children") or {"file": file}))
        for child, child_body in children.items():
            _parse_group(inv, str(child), child_body, file, name, _where(children, child))


def parse_yaml_inventory(inv: Inventory, data: Any, file: str) -> None:
    """Add a YAML inventory's content to `inv`."""
    if not isinstance(data, Mapping):
        raise InputError("a YAML inventory must be a mapping of groups", file=file)
    for name, body in data.items():
        if isinstance(body, Mapping) and set(body) - GROUP_KEYS and name != "all":
            # a plugin config (e.g. `plugin: ...`) or a stray mapping
            raise InputError("not an inventory group (expected hosts, vars, children)", key=str(name),
                             **(_where(data, name) or {"file": file}))
        _parse_group(inv, str(name), body, file, None, _where(data, name))
