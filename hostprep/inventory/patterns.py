"""Ansible host patterns: names, groups, globs, `~regex`, `a:b`, `a:&b`, `a:!b`, `g[0]`, `g[1:3]`, `@file`.

The rules are ansible-core's (inventory manager): a pattern is split on commas (or, unless the whole
pattern is one address such as an IPv6 address or `host:port`, on colons outside `[]`); plain terms are
united first, then `&` terms intersect and `!` terms exclude; a term that is exactly a host name is that
host; otherwise it matches group names (glob or `~regex`) and, when no group matched or it has glob or
regex characters or a dot, host names too. A subscript (`[i]`, `[i:j]`, `[i:]`) picks from that match.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import TYPE_CHECKING

from hostprep.errors import InputError
from hostprep.inventory.ranges import parse_address

if TYPE_CHECKING:
    from hostprep.inventory.inventory import Inventory

_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
_TERM = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")


def split_pattern(pattern: str | list[str]) -> list[str]:
    """Split on commas, or on colons that are not inside [] (unless the pattern is one address)."""
    if isinstance(pattern, list):
        out: list[str] = []
        for p in pattern:
            out += split_pattern(p)
        return out
    pattern = str(pattern)
    if "," in pattern:
        parts = pattern.split(",")
    elif parse_address(pattern) is not None:
        parts = [pattern]
    else:
        parts = _TERM.findall(pattern)
    return [p.strip() for p in parts if p.strip()]


def _compile(pattern: str) -> re.Pattern:
    try:
        return re.compile(pattern[1:] if pattern.startswith("~") else fnmatch.translate(pattern))
    except re.error as exc:
        raise InputError(f"bad host pattern {pattern!r}: {exc}", key=pattern) from None


def _enumerate(inv: Inventory, pattern: str) -> list[str]:
    """Hosts of every group the pattern matches, then (see the module doc) matching hosts; not deduplicated."""
    regex = _compile(pattern)
    groups = [g for g in inv.groups if regex.match(g)]
    results = [h for g in groups for h in inv.group_hosts(g)]
    if not groups or pattern.startswith("~") or any(c in pattern for c in ".?*["):
        results += [h for h in inv.hosts if h not in inv.implicit and regex.match(h)]
    if not results and pattern in inv.implicit_names:  # localhost, 127.0.0.1, ::1: the one implicit localhost
        results = [inv.implicit_names[pattern]]
    return results


def _match_term(inv: Inventory, term: str) -> list[str]:
    """The hosts one term (without its & or !) stands for, subscript applied."""
    if term.startswith("@"):
        path = Path(term[1:])
        if not path.exists():
            raise InputError("limit file not found", file=str(path), key=term)
        names: list[str] = []
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                names += select_hosts(inv, line)
        return names
    sub = None if term.startswith("~") else _SUBSCRIPT.match(term)
    if not sub:
        return _enumerate(inv, term)
    expr, index, start, _sep, end = sub.groups()
    hosts = _enumerate(inv, expr)
    if not hosts:
        return hosts
    if index is None and end != "0":
        stop = int(end) if end else len(hosts) - 1
        return hosts[int(start) : stop + 1]
    position = int(index if index is not None else start)  # Ansible reads [i:0] as [i]
    try:
        return [hosts[position]]
    except IndexError:
        raise InputError(f"no hosts matched the subscripted pattern {term!r} (it has {len(hosts)})",
                         key=term) from None


def _dedupe(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def select_hosts(inv: Inventory, pattern: str | list[str]) -> list[str]:
    """Host names matching an Ansible pattern, in Ansible's order (unions, then &, then !)."""
    terms = split_pattern(pattern)
    plain = [t for t in terms if not t.startswith(("&", "!"))]
    inter = [t for t in terms if t.startswith("&")]
    exclude = [t for t in terms if t.startswith("!")]
    result: list[str] = []
    for t in plain or ["all"]:
        if t in inv.hosts and t not in inv.implicit:
            result.append(t)
        else:
            have = set(result)
            result += [h for h in _match_term(inv, t) if h not in have]
    for t in inter:
        keep = set(_match_term(inv, t[1:]))
        result = [h for h in result if h in keep]
    for t in exclude:
        drop = set(_match_term(inv, t[1:]))
        result = [h for h in result if h not in drop]
    return _dedupe(result)
