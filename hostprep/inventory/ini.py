"""Ansible's INI inventory format."""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

from hostprep.errors import InputError
from hostprep.inventory.ranges import expand_hosts
from hostprep.inventory.values import parse_ini_value

if TYPE_CHECKING:
    from hostprep.inventory.inventory import Inventory

# [name] or [name:kind], then an optional `#` comment; a name has no blank, `:` or `]`.
_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_CHILD = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")


def _split_kv(words: list[str], file: str, line: int) -> dict:
    out = {}
    for word in words:
        if "=" not in word:
            raise InputError(f"expected key=value host variable, got {word!r}", file=file, line=line, key=word)
        key, value = word.split("=", 1)
        out[key] = parse_ini_value(value)
    return out


def _words(text: str, file: str, line: int) -> list[str]:
    try:
        return shlex.split(text, comments=True, posix=True)
    except ValueError as exc:
        raise InputError(f"cannot parse host line: {exc}", file=file, line=line, key=text) from None


def parse_ini(inv: Inventory, text: str, file: str) -> None:
    """Add the hosts, groups and variables of an INI inventory to `inv`.

    As Ansible: `[g:vars]` needs `g` declared somewhere (as `[g]` or `[g:children]`, in this file or an
    earlier source), and a group named under `[p:children]` must be declared too; a child not yet declared
    joins its parents when its own section comes (which decides the order of the parent's children).
    """
    section, kind = "ungrouped", "hosts"
    # undeclared group -> (line, what referenced it, parents waiting for it)
    pending: dict[str, dict] = {}

    def declare(name: str) -> None:
        decl = pending.pop(name, None)
        if decl is None:
            return
        for parent, line in decl["parents"]:
            inv.link(parent, name, file=file, line=line)
            if parent in pending and pending[parent]["kind"] == "children":
                declare(parent)

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        match = _SECTION.match(line)
        if match:
            section, kind = match.group(1), match.group(2) or "hosts"
            if kind not in ("hosts", "vars", "children"):
                raise InputError(f"section [{section}:{kind}] has unknown type {kind} (use :vars or :children)",
                                 file=file, line=number, key=line)
            if section not in inv.groups:
                if kind == "vars" and section not in pending:
                    pending[section] = {"line": number, "kind": "vars", "parents": []}
                inv.add_group(section)
            if section in pending and kind != "vars":
                if pending[section]["kind"] == "children":
                    declare(section)
                else:
                    del pending[section]
            continue
        if line.startswith("[") and line.endswith("]"):
            raise InputError(f"invalid section header {line!r}: no blanks or other characters allowed in it",
                             file=file, line=number, key=line)
        if kind == "hosts":
            words = _words(line, file, number)
            if words[0] == "---":
                raise InputError("'---' is not a host: this looks like a YAML file", file=file, line=number,
                                 key=words[0])
            names, port = expand_hosts(words[0], file=file, line=number)
            hostvars = _split_kv(words[1:], file, number)
            for name in names:
                new = name not in inv.hosts
                host = inv.add_host(name, section)
                if port is not None and new:  # as Ansible: a port given again for a known host is ignored
                    host.vars["ansible_port"] = port
                host.vars.update(hostvars)
        elif kind == "vars":
            if "=" not in line:
                raise InputError(f"expected key=value in [{section}:vars]", file=file, line=number, key=line)
            key, value = (part.strip() for part in line.split("=", 1))
            inv.groups[section].set_var(key, parse_ini_value(value), file=file, line=number)
        else:
            child_match = _CHILD.match(line)
            if not child_match:
                raise InputError(f"expected a group name in [{section}:children]", file=file, line=number, key=line)
            child = child_match.group(1)
            if child in inv.groups:
                inv.link(section, child, file=file, line=number)
            elif child in pending:
                pending[child]["parents"].append((section, number))
            else:
                pending[child] = {"line": number, "kind": "children", "parents": [(section, number)]}
    for name, decl in pending.items():
        if decl["kind"] == "vars":
            raise InputError(f"section [{name}:vars] is for group {name}, which is not declared "
                             f"(declare it with [{name}] or [{name}:children])", file=file, line=decl["line"], key=name)
        parent = decl["parents"][-1][0]
        raise InputError(f"section [{parent}:children] names group {name}, which is not declared "
                         f"(declare it with [{name}] or [{name}:children])", file=file, line=decl["line"], key=name)
