"""Ansible host ranges: `web[01:20].example.com`, `db-[a:d]`, `node[001:009:2]`, and `host:port`."""

from __future__ import annotations

import re
import string

from hostprep.errors import InputError

_RANGE = re.compile(r"^(.*?)\[([^\]]+)\](.*)$")


def _expand_one(pattern: str) -> list[str]:
    match = _RANGE.match(pattern)
    if not match:
        return [pattern]
    head, body, tail = match.groups()
    parts = body.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"bad range [{body}]")
    beg, end = parts[0], parts[1]
    step = int(parts[2]) if len(parts) == 3 and parts[2] else 1
    if not beg:
        beg = "0"
    if not end:
        raise ValueError(f"range [{body}] has no end")
    if beg.isdigit() and end.isdigit():
        width = len(beg) if beg.startswith("0") and len(beg) > 1 else 0
        b, e = int(beg), int(end)
        if b > e:
            raise ValueError(f"range [{body}] starts after it ends")
        items = [str(i).zfill(width) for i in range(b, e + 1, step)]
    elif len(beg) == 1 and len(end) == 1 and beg in string.ascii_letters and end in string.ascii_letters:
        alphabet = string.ascii_letters
        b, e = alphabet.index(beg), alphabet.index(end)
        if b > e:
            raise ValueError(f"range [{body}] starts after it ends")
        items = list(alphabet[b : e + 1 : step])
    else:
        raise ValueError(f"range [{body}] must be numbers or single letters")
    out = []
    for item in items:
        out.extend(_expand_one(f"{head}{item}{tail}"))
    return out


def split_port(pattern: str) -> tuple[str, int | None]:
    """`host:2222` -> ("host", 2222); `web[01:03]:22` too; bare IPv6 addresses keep no port."""
    if pattern.startswith("[") and "]:" in pattern:  # [v6addr]:port
        name, _, port = pattern[1:].partition("]:")
        return name, int(port)
    tail_start = pattern.rfind("]") + 1
    tail = pattern[tail_start:]
    if tail.count(":") == 1 and pattern.count(":") - pattern[:tail_start].count(":") == 1:
        head_colons = pattern[:tail_start].replace("[", "").count(":")
        bracket_colons = sum(seg.count(":") for seg in re.findall(r"\[[^\]]*\]", pattern))
        if head_colons == bracket_colons:  # the only colon outside ranges is the port's
            name, _, port = pattern.rpartition(":")
            if port.isdigit():
                return name, int(port)
            raise ValueError(f"port {port!r} is not a number")
    return pattern, None


def expand_hosts(pattern: str, *, file: str | None = None, line: int | None = None) -> tuple[list[str], int | None]:
    """All host names a pattern stands for, and its port if it names one."""
    try:
        name, port = split_port(pattern)
        return _expand_one(name), port
    except ValueError as exc:
        raise InputError(f"bad host pattern {pattern!r}: {exc}", file=file, line=line, key=pattern) from None
