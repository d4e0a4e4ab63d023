"""Ansible host ranges: `web[01:20].example.com`, `db-[a:d]`, `node[001:009:2]`, and `host:port`."""

from __future__ import annotations

import re
import string

from hostprep.errors import InputError

_RANGE = re.compile(r"^(.*?)\[([^\]]*)\](.*)$")
# What Ansible accepts as a host with a port: `[anything]:PORT`, or text whose colons are all inside
# [] ranges followed by `:PORT`; the host part must then be a valid address, else nothing is split off.
_BRACKETED_PORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
_HOST_PORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
_ALNUM_RANGE = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_LABEL = rf"(?:\w|{_ALNUM_RANGE})(?:[\w-]|{_ALNUM_RANGE})*(?<![_-])"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.I)
_HEX_RANGE = re.compile(r"\[[0-9a-f]+:[0-9a-f]+(?::[0-9]+)?\]", re.I)


def _expand_one(pattern: str) -> list[str]:
    match = _RANGE.match(pattern)
    if not match:
        if "[" in pattern:
            raise ValueError("a range needs a closing ]")
        return [pattern]
    head, body, tail = match.groups()
    parts = body.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"range [{body}] must be begin:end or begin:end:step")
    beg, end = parts[0] or "0", parts[1]
    if not end:
        raise ValueError(f"range [{body}] has no end")
    try:
        step = int(parts[2]) if len(parts) == 3 else 1
    except ValueError:
        raise ValueError(f"range [{body}]: step {parts[2]!r} is not a number") from None
    if step < 1:
        raise ValueError(f"range [{body}]: step must be 1 or more")
    width = 0
    if beg.startswith("0") and len(beg) > 1:  # leading zeros: every name has begin's width
        width = len(beg)
        if len(end) != width:
            raise ValueError(f"range [{body}]: begin and end must have the same width")
    if beg in string.ascii_letters and end in string.ascii_letters and len(beg) == len(end) == 1:
        b, e = string.ascii_letters.index(beg), string.ascii_letters.index(end)
        if b > e:
            raise ValueError(f"range [{body}] starts after it ends")
        items = list(string.ascii_letters[b : e + 1 : step])
    elif beg.isdigit() and end.isdigit():
        b, e = int(beg), int(end)  # a range that starts after it ends names no host, as in Ansible
        items = [str(i).zfill(width) for i in range(b, e + 1, step)]
    else:
        raise ValueError(f"range [{body}] must be numbers or single letters")
    out = []
    for item in items:
        out.extend(_expand_one(f"{head}{item}{tail}"))
    return out


def _valid_address(name: str) -> bool:
    """A host name or IPv4 address (ranges allowed in labels), or an IPv6 address (hex ranges allowed)."""
    if _HOSTNAME.match(name):
        return True
    if "%" in name or "/" in name:  # no scope ids or prefixes, as Ansible's address pattern
        return False
    import ipaddress

    try:
        ipaddress.IPv6Address(_HEX_RANGE.sub("0", name))
        return True
    except ValueError:
        return False


def parse_address(text: str) -> tuple[str, int | None] | None:
    """(host, port) if `text` is an address Ansible recognizes, with an optional port; None if not."""
    match = _BRACKETED_PORT.match(text) or _HOST_PORT.match(text)
    host, port = (match.group(1), int(match.group(2))) if match else (text, None)
    return (host, port) if _valid_address(host) else None


def split_port(pattern: str) -> tuple[str, int | None]:
    """`host:2222` -> ("host", 2222); `web[01:03]:22` and `[v6addr]:22` too; a bare IPv6 address keeps
    no port, and neither does text that is not a valid host name (as Ansible's parse_address)."""
    return parse_address(pattern) or (pattern, None)


def expand_hosts(pattern: str, *, file: str | None = None, line: int | None = None) -> tuple[list[str], int | None]:
    """All host names a pattern stands for, and its port if it names one."""
    try:
        name, port = split_port(pattern)
        if port is None and pattern.rstrip().endswith(":"):
            raise ValueError("a host name cannot end in ':' (it is reserved for a port)")
        return _expand_one(name), port
    except ValueError as exc:
        raise InputError(f"bad host pattern {pattern!r}: {exc}", file=file, line=line, key=pattern) from None
