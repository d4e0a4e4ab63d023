"""The inventory: sources merged into hosts and groups, variables merged as Ansible does.

A user's existing Ansible inventory must work unchanged, so group order, variable precedence
and the `ansible-inventory --list` shape follow ansible-core; tests compare against it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hostprep.errors import InputError
from hostprep.inventory.model import Group, Host
from hostprep.yamlsource import UnsafeText, VaultText, load_yaml_file, load_yaml_text

IGNORED_EXTS = (".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry")
IGNORED_NAMES = ("group_vars", "host_vars", "vars_plugins")
VARS_EXTS = ("", ".yml", ".yaml", ".json")
IMPLICIT_LOCALHOST = ("localhost", "127.0.0.1", "::1")


def combine(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Ansible's default `hash_behaviour=replace`: later keys replace earlier ones whole."""
    out = dict(a)
    out.update(b)
    return out


def _dir_files(path: Path) -> list[Path]:
    """The variables files of a group_vars/NAME directory, as Ansible finds them: sorted by name, walking
    sub-directories that have no extension; files with no extension or .yml/.yaml/.json; no hidden
    files and no `~` backups."""
    found: list[Path] = []
    for child in sorted(path.iterdir(), key=lambda p: p.name):
        if child.name.startswith(".") or child.name.endswith("~"):
            continue
        ext = os.path.splitext(child.name)[1]
        if child.is_dir():
            if not ext:
                found += _dir_files(child)
        elif child.is_file() and ext in VARS_EXTS:
            found.append(child)
    return found


def load_vars_path(path: Path) -> dict[str, Any]:
    """Variables from a group_vars/host_vars entry: a file, or a directory of files (recursive, sorted)."""
    if path.is_dir():
        data: dict[str, Any] = {}
        for child in _dir_files(path):
            data = combine(data, load_vars_path(child))
        return data
    loaded = load_yaml_file(path)
    if loaded is None:
        return {}
    if not isinstance(loaded, Mapping):
        raise InputError("a variables file must hold a mapping", file=str(path))
    return dict(loaded)


def vars_for(base: Path, kind: str, name: str) -> dict[str, Any] | None:
    """group_vars/NAME or host_vars/NAME under `base`, in file or directory form; None if absent.

    As Ansible, only the first of NAME, NAME.yml, NAME.yaml, NAME.json that exists is read."""
    directory = base / kind
    if not directory.is_dir() or name.startswith(os.sep):
        return None
    for ext in VARS_EXTS:
        candidate = directory / f"{name}{ext}"
        if candidate.exists():
            return load_vars_path(candidate)
    return None


class Inventory:
    """Hosts and groups from one or more sources, with Ansible's pattern and variable semantics."""

    def __init__(self) -> None:
        self.hosts: dict[str, Host] = {}
        self.groups: dict[str, Group] = {}
        self.sources: list[Path] = []
        self.vars_dirs: list[Path] = []  # inventory-side bases holding group_vars/ and host_vars/
        self._group_order: list[str] = []
        self.add_group("all")
        self.add_group("ungrouped")
        self.link("all", "ungrouped")
        self.host_sources: dict[str, Path] = {}
        self.implicit: set[str] = set()  # Ansible's implicit localhost, once a pattern names it
        self.implicit_names: dict[str, str] = {}  # each localhost name a pattern used -> that host

    # -- building ----------------------------------------------------------------------
    def add_group(self, name: str) -> Group:
        if name not in self.groups:
            self.groups[name] = Group(name)
            self._group_order.append(name)
        return self.groups[name]

    def add_host(self, name: str, group: str | None = None, source: Path | None = None) -> Host:
        host = self.hosts.get(name)
        if host is None:
            host = self.hosts[name] = Host(name)
            if source is not None:
                self.host_sources[name] = source
        if group == "all":  # its own hosts come first in `all` (group_hosts); the host joins no group
            if name not in self.groups["all"].hosts:
                self.groups["all"].hosts.append(name)
        elif group and group != "ungrouped":
            self.add_group(group).add_host(host)
        elif group == "ungrouped":
            self.groups["ungrouped"].add_host(host)
        return host

    def link(self, parent: str, child: str, *, file: str | None = None, line: int | None = None) -> None:
        if parent == child or child in self.ancestors(parent):
            raise InputError(f"group {child} cannot be a child of {parent}: that makes a cycle",
                             file=file, line=line, key=child)
        self.add_group(parent).add_child(self.add_group(child))

    def ancestors(self, group: str) -> list[str]:
        seen: list[str] = []
        stack = list(self.groups[group].parents) if group in self.groups else []
        while stack:
            g = stack.pop()
            if g not in seen:
                seen.append(g)
                stack.extend(self.groups[g].parents)
        return seen

    def finish(self) -> None:
        """Reconcile: every group under `all`; hosts with no group are `ungrouped`; ungrouped emptied of others."""
        all_group = self.groups["all"]
        for name in self._group_order:
            group = self.groups[name]
            if name == "all":
                continue
            if not group.parents:  # Ansible adds only parentless groups to `all`
                all_group.add_child(group)
        ungrouped = self.groups["ungrouped"]
        for host in self.hosts.values():
            real = [g for g in host.groups if g not in ("all", "ungrouped")]
            if real and "ungrouped" in host.groups:
                host.groups.remove("ungrouped")
                ungrouped.hosts.remove(host.name)
            elif not real and "ungrouped" not in host.groups:
                ungrouped.add_host(host)

    # -- groups and depth ----------------------------------------------------------------
    def depth(self, group: str) -> int:
        parents = self.groups[group].parents
        return 0 if not parents else 1 + max(self.depth(p) for p in parents)

    def host_groups(self, name: str) -> list[str]:
        """Every group the host is in (direct and inherited), including `all`."""
        host = self.hosts[name]
        found: list[str] = []
        for g in host.groups:
            for x in [g, *self.ancestors(g)]:
                if x not in found:
                    found.append(x)
        if "all" not in found:
            found.append("all")
        return found

    def sorted_groups(self, names: list[str]) -> list[str]:
        """Ansible's sort_groups: by depth, then ansible_group_priority, then name."""
        def key(n: str) -> tuple[int, int, str]:
            g = self.groups[n]
            return (self.depth(n), g.priority, n)

        return sorted(names, key=key)

    # -- variables -----------------------------------------------------------------------
    def _dir_vars(self, bases: list[Path], kind: str, name: str) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for base in bases:
            found = vars_for(base, kind, name)
            if found:
                data = combine(data, found)
        return data

    def host_vars(self, name: str, playbook_dir: Path | None = None, *, magic: bool = True) -> dict[str, Any]:
        """Every inventory-side variable of a host, merged by Ansible's precedence (items 3-10)."""
        if name not in self.hosts:
            raise InputError(f"host {name!r} is not in the inventory", key=name)
        host = self.hosts[name]
        groups = self.sorted_groups(self.host_groups(name))
        others = [g for g in groups if g != "all"]
        play_bases = [Path(playbook_dir)] if playbook_dir else []
        data: dict[str, Any] = {}
        data = combine(data, self.groups["all"].vars)  # all_inventory
        for g in groups:  # groups_inventory (inventory-file group vars)
            data = combine(data, self.groups[g].vars)
        data = combine(data, self._dir_vars(self.vars_dirs, "group_vars", "all"))  # all_plugins_inventory
        data = combine(data, self._dir_vars(play_bases, "group_vars", "all"))  # all_plugins_play
        for g in others:  # groups_plugins_inventory
            data = combine(data, self._dir_vars(self.vars_dirs, "group_vars", g))
        for g in others:  # groups_plugins_play
            data = combine(data, self._dir_vars(play_bases, "group_vars", g))
        data = combine(data, host.vars)
        data = combine(data, self._dir_vars(self.vars_dirs, "host_vars", name))
        data = combine(data, self._dir_vars(play_bases, "host_vars", name))
        if magic:
            data.update(self.magic_vars(name))
        return data

    def magic_vars(self, name: str) -> dict[str, Any]:
        source = self.host_sources.get(name) or (self.sources[0] if self.sources else None)
        return {
            "inventory_hostname": name,
            "inventory_hostname_short": name.split(".")[0],
            "group_names": sorted(g for g in self.host_groups(name) if g not in ("all",)
                                  and not (g == "ungrouped" and len(self.host_groups(name)) > 2)),
            "groups": self.groups_map(),
            "inventory_dir": str(source.parent if source and source.is_file() else source) if source else None,
            "inventory_file": str(source) if source else None,
        }

    def groups_map(self) -> dict[str, list[str]]:
        """`groups`: every group's hosts (inherited from children too), plus `all` and `ungrouped`."""
        out: dict[str, list[str]] = {}
        for name in self._group_order:
            out[name] = self.group_hosts(name)
        return out

    def group_hosts(self, group: str) -> list[str]:
        """Hosts of a group and its descendants, in Ansible's order (own hosts, then its children's, then
        theirs: level by level). For `all` that is the order of the group tree, not of the files."""
        stack = [group]
        visited: set[str] = set()
        order: list[str] = []
        while stack:
            g = stack.pop(0)
            if g in visited:
                continue
            visited.add(g)
            order.append(g)
            stack.extend(self.groups[g].children)
        return list(dict.fromkeys(h for g in order for h in self.groups[g].hosts))

    # -- patterns -------------------------------------------------------------------------
    def select(self, pattern: str = "all") -> list[Host]:
        from hostprep.inventory.patterns import select_hosts

        self._implicit_localhost(pattern)
        return [self.hosts[n] for n in select_hosts(self, pattern)]

    def _implicit_localhost(self, pattern: str) -> None:
        """A pattern naming localhost that the inventory lacks gets Ansible's implicit localhost: a local
        connection with this Python, in no group (so `all` does not match it)."""
        import re
        import sys

        for term in re.split(r"[:,]", str(pattern)):
            name = term.strip().lstrip("&!")
            if name in IMPLICIT_LOCALHOST and name not in self.hosts and name not in self.implicit_names:
                if self.implicit:  # one implicit localhost, named after the first pattern that made it
                    self.implicit_names[name] = next(iter(self.implicit))
                    continue
                self.hosts[name] = Host(name, {"ansible_connection": "local", "ansible_python_interpreter":
                                               sys.executable})
                self.implicit.add(name)
                self.implicit_names[name] = name

    # -- ansible-inventory output --------------------------------------------------------
    def list_json(self, export: bool = False) -> dict[str, Any]:
        """What `ansible-inventory --list` prints for this inventory."""
        out: dict[str, Any] = {}
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            group = self.groups[name]
            entry: dict[str, Any] = {}
            if name != "all" and group.hosts:
                entry["hosts"] = list(group.hosts)
            if group.children:
                entry["children"] = list(group.children)
            if export:
                gv = combine(group.vars, self._dir_vars(self.vars_dirs, "group_vars", name))
                if group.priority != 1:  # ansible-inventory shows a group's priority among its vars
                    gv["ansible_group_priority"] = group.priority
                if gv:
                    entry["vars"] = gv
            if entry:
                out[name] = entry
            for child in group.children:
                visit(child)

        visit("all")
        hostvars = {}
        for name in self.hosts:
            if export:
                hv = combine(self.hosts[name].vars, self._dir_vars(self.vars_dirs, "host_vars", name))
            else:
                hv = self.host_vars(name, magic=False)
            if hv:
                hostvars[name] = hv
        out["_meta"] = {"hostvars": hostvars, "profile": "inventory_legacy"}
        return _ansible_json(out, unsafe=True)

    def graph_text(self, group: str = "all") -> str:
        """What `ansible-inventory --graph` prints: child groups first, then the group's own hosts."""
        lines: list[str] = []

        def show(name: str, depth: int) -> None:
            lines.append(("  |" * depth + "--" if depth else "") + f"@{name}:")
            for child in self.groups[name].children:
                show(child, depth + 1)
            if name != "all":
                lines.extend("  |" * (depth + 1) + f"--{h}" for h in self.groups[name].hosts)

        show(group, 0)
        return "\n".join(lines)

    def host_json(self, name: str) -> dict[str, Any]:
        """What `ansible-inventory --host NAME` prints."""
        return _ansible_json(self.host_vars(name, magic=False), unsafe=False)

    def dumps(self, data: Any) -> str:
        return json.dumps(data, indent=4, sort_keys=True, ensure_ascii=False)


def _ansible_json(value: Any, *, unsafe: bool) -> Any:
    """Values as ansible-inventory prints them: an inline `!vault` value as {"__ansible_vault": ciphertext}
    (never its plaintext), and with `unsafe` (--list) an `!unsafe` string as {"__ansible_unsafe": text}."""
    if isinstance(value, VaultText):
        return {"__ansible_vault": value.ciphertext}
    if unsafe and isinstance(value, UnsafeText):
        return {"__ansible_unsafe": str(value)}
    if isinstance(value, Mapping):
        return {k: _ansible_json(v, unsafe=unsafe) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_ansible_json(v, unsafe=unsafe) for v in value]
    return value


def _load_file(inv: Inventory, path: Path) -> None:
    from hostprep.inventory.script import is_script, parse_script_inventory

    if is_script(path):  # an executable inventory script (--list / --host), as Ansible's script plugin
        parse_script_inventory(inv, path)
        return
    text = path.read_text(encoding="utf-8", errors="replace")
    ext = path.suffix
    if ext in (".yml", ".yaml", ".json") or not ext:
        try:
            data = load_yaml_text(text, str(path))
        except InputError:
            if ext:
                raise
            data = None
        if isinstance(data, Mapping) and isinstance(data.get("plugin"), str):
            line = data.line_of("plugin") if hasattr(data, "line_of") else None
            raise InputError(f"inventory plugin {data['plugin']} is not supported by hostprep (INI, YAML, "
                             "directories and executable inventory scripts are)", file=str(path), line=line,
                             key="plugin")
        if isinstance(data, Mapping):
            from hostprep.inventory.yamlfmt import parse_yaml_inventory

            before = set(inv.hosts)
            parse_yaml_inventory(inv, data, str(path))
            for h in set(inv.hosts) - before:
                inv.host_sources[h] = path
            return
        if ext and data is not None:  # an empty YAML file is an empty inventory (Ansible reads it as INI)
            raise InputError("a YAML inventory must be a mapping of groups", file=str(path))
    from hostprep.inventory.ini import parse_ini

    before = set(inv.hosts)
    parse_ini(inv, text, str(path))
    for h in set(inv.hosts) - before:
        inv.host_sources[h] = path


def _load_source(inv: Inventory, source: str) -> None:
    path = Path(os.path.expanduser(source))
    if not path.exists() and "," in source:
        from hostprep.inventory.ranges import split_port

        for name in (s.strip() for s in source.split(",")):
            if name:  # as Ansible's host_list: no ranges, and a host already known is left as it is
                host_name, port = split_port(name)
                if "[" in host_name:
                    host_name, port = name, None
                if host_name not in inv.hosts:
                    host = inv.add_host(host_name, "ungrouped")
                    if port is not None:
                        host.vars["ansible_port"] = port
        return
    if not path.exists():
        raise InputError("inventory source not found", file=str(path))
    inv.sources.append(path)
    if path.is_dir():
        inv.vars_dirs.append(path)  # only a source's own group_vars/host_vars, not its sub-directories'
        _load_dir(inv, path)
    else:
        inv.vars_dirs.append(path.parent)
        _load_file(inv, path)


def _load_dir(inv: Inventory, path: Path) -> None:
    """Every inventory file of a directory, sorted by name, sub-directories walked, as Ansible: hidden
    names, group_vars, host_vars, vars_plugins and names ending in an ignored extension are skipped."""
    for child in sorted(path.iterdir(), key=lambda p: p.name):
        if child.name.startswith(".") or child.name in IGNORED_NAMES or child.name.endswith(IGNORED_EXTS):
            continue
        if child.is_dir():
            _load_dir(inv, child)
        else:
            _load_file(inv, child)


def load_inventory(sources: list[str] | tuple[str, ...] | str) -> Inventory:
    """Load and merge inventory sources (files, directories, or `host1,host2,` lists)."""
    if isinstance(sources, str):
        sources = [sources]
    inv = Inventory()
    for source in sources:
        _load_source(inv, str(source))
    # vars dirs once each, in order
    unique: list[Path] = []
    for d in inv.vars_dirs:
        if d not in unique:
            unique.append(d)
    inv.vars_dirs = unique
    inv.finish()
    return inv
