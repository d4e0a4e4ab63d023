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

_SECTION = re.compile(r"^\[([^\]:]+)(?::(\w+))?\]\s*(?:[#;].*)?$")


def _split_kv(words: list[str], file: str, line: int) -> dict:
    out = {}
    for word in words:
        if "=" not in word:
            raise InputError(f"expected key=value, got {word!r}", file=file, line=line, key=word)
        key, value = word.split("=", 1)
        out[key] = parse_ini_value(value)
    return out


def _words(text: str, file: str, line: int) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=False)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError as exc:
        raise InputError(f"cannot parse line: {exc}", file=file, line=line) from None


def parse_ini(inv: Inventory, text: str, file: str) -> None:
    """Add the hosts, groups and variables of an INI inventory to `inv`."""
    section, kind = "ungrouped", "hosts"
    pending_children: list[tuple[str, str, int]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        match = _SECTION.match(line)
        if line.startswith("["):
            if not match:
                raise InputError(f"malformed section header {line!r}", file=file, line=number, key=line)
            section, kind = match.group(1).strip(), match.group(2) or "hosts"
            if kind not in ("hosts", "vars", "children"):
                raise InputError(f"unknown section kind :{kind} (use :vars or :children)",
                                 file=file, line=number, key=line)
            if kind == "hosts" or kind == "children":
                inv.add_group(section)
            continue
        if kind == "hosts":
            words = _words(line, file, number)
            names, port = expand_hosts(words[0], file=file, line=number)
            hostvars = _split_kv(words[1:], file, number)
            if port is not None:
                hostvars.setdefault("ansible_port", port)
            for name in names:
                host = inv.add_host(name, section)
                host.vars.update(hostvars)
        elif kind == "vars":
            if "=" not in line:
                raise InputError(f"expected key=value in [{section}:vars]", file=file, line=number, key=line)
            key, value = line.split("=", 1)
            group = inv.add_group(section)
            group.vars[key.strip()] = parse_ini_value(value.strip())
        else:
            child = line.split()[0]
            pending_children.append((section, child, number))
    for parent, child, number in pending_children:
        if child not in inv.groups:
            inv.add_group(child)
        if child == parent:
            raise InputError(f"group {child} cannot be its own child", file=file, line=number, key=child)
        inv.link(parent, child, file=file, line=number)
