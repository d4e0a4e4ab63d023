"""Ansible host patterns: names, groups, globs, `~regex`, `a:b`, `a:&b`, `a:!b`, `g[0:2]`, `@file`."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import TYPE_CHECKING

from hostprep.errors import InputError

if TYPE_CHECKING:
    from hostprep.inventory.inventory import Inventory

_SUBSCRIPT = re.compile(r"^(.+)\[(-?\d+)(?::(-?\d*))?\]$")


def split_pattern(pattern: str | list[str]) -> list[str]:
    """Split on commas, or on colons that are not inside [] subscripts or IPv6 addresses."""
    if isinstance(pattern, list):
        out: list[str] = []
        for p in pattern:
            out += split_pattern(p)
        return out
    pattern = pattern.strip()
    if "," in pattern:
        return [p.strip() for p in pattern.split(",") if p.strip()]
    terms, depth, current = [], 0, ""
    if re.fullmatch(r"[0-9a-fA-F:]+", pattern) and pattern.count(":") > 1:
        return [pattern]
    for ch in pattern:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == ":" and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += ch
    terms.append(current)
    return [t.strip() for t in terms if t.strip()]


def _match_term(inv: Inventory, term: str) -> list[str]:
    if term in inv.implicit_names:  # localhost, 127.0.0.1, ::1: the one implicit localhost
        return [inv.implicit_names[term]]
    if term.startswith("@"):
        path = Path(term[1:])
        if not path.exists():
            raise InputError("limit file not found", file=str(path), key=term)
        names: list[str] = []
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                names += _match_term(inv, line)
        return names
    sub = _SUBSCRIPT.match(term)
    if sub and sub.group(1) in inv.groups | inv.hosts.keys() or (sub and not term.startswith("~")):
        base, start, end = sub.group(1), int(sub.group(2)), sub.group(3)
        hosts = _match_term(inv, base)
        if end is None:
            try:
                return [hosts[start]]
            except IndexError:
                return []
        stop = int(end) if end not in ("", None) else len(hosts) - 1
        if stop < 0:
            stop += len(hosts)
        if start < 0:
            start += len(hosts)
        return hosts[start : stop + 1]
    if term in ("all", "*"):  # Ansible's implicit localhost is only matched by its name
        return [h for h in inv.hosts if h not in inv.implicit]
    if term.startswith("~"):
        try:
            regex = re.compile(term[1:])
        except re.error as exc:
            raise InputError(f"bad regex in host pattern: {exc}", key=term) from None
        found = [h for g in inv.groups if regex.match(g) for h in inv.group_hosts(g)]
        found += [h for h in inv.hosts if regex.match(h) and h not in inv.implicit]
        return _dedupe(found)
    if term in inv.groups:
        return inv.group_hosts(term)
    if term in inv.hosts:
        return [term]
    if any(c in term for c in "*?["):
        found = [h for g in inv.groups if fnmatch.fnmatchcase(g, term) for h in inv.group_hosts(g)]
        found += [h for h in inv.hosts if fnmatch.fnmatchcase(h, term) and h not in inv.implicit]
        return _dedupe(found)
    return []


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for n in names:
        seen.setdefault(n, None)
    return list(seen)


def select_hosts(inv: Inventory, pattern: str | list[str]) -> list[str]:
    """Host names matching an Ansible pattern, in Ansible's order (unions, then &, then !)."""
    terms = split_pattern(pattern)
    plain = [t for t in terms if not t.startswith(("&", "!"))]
    inter = [t[1:] for t in terms if t.startswith("&")]
    exclude = [t[1:] for t in terms if t.startswith("!")]
    if not plain and (inter or exclude):
        plain = ["all"]
    result: list[str] = []
    for t in plain:
        result += _match_term(inv, t)
    result = _dedupe(result)
    for t in inter:
        keep = set(_match_term(inv, t))
        result = [h for h in result if h in keep]
    for t in exclude:
        drop = set(_match_term(inv, t))
        result = [h for h in result if h not in drop]
    return result
