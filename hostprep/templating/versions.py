"""Version comparison for the `version` test, with Ansible's version types and their exact semantics.

loose (the default) compares like distutils' LooseVersion, as Ansible does: '1.0.0' is *greater* than
'1.0' (not equal), and comparing a number part with a word part is an error. strict is StrictVersion
(N.N[.N][{a|b}N], a missing patch is 0), semver/semantic is Semantic Versioning 2.0.0 (pre-releases sort
before the release, build metadata is ignored), pep440 is packaging's Version.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "==": operator.eq, "=": operator.eq, "ne": operator.ne, "!=": operator.ne,
    "<>": operator.ne, "lt": operator.lt, "<": operator.lt, "le": operator.le, "<=": operator.le,
    "gt": operator.gt, ">": operator.gt, "ge": operator.ge, ">=": operator.ge,
}

_LOOSE_PART = re.compile(r"(\d+|[a-z]+|\.)", re.VERBOSE)
_STRICT = re.compile(r"^(\d+)\.(\d+)(\.(\d+))?([ab](\d+))?$", re.ASCII)
_SEMVER = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$")


class VersionError(ValueError):
    """Two versions cannot be compared (bad syntax for the version type, number against word)."""


def loose_key(version: str) -> list[int | str]:
    """LooseVersion's parts: numbers as numbers, the rest as text, dots dropped."""
    return [int(p) if p.isdigit() else p for p in _LOOSE_PART.split(version) if p and p != "."]


def _strict_key(version: str) -> tuple:
    m = _STRICT.match(version)
    if not m:
        raise VersionError(f"invalid version number {version!r} (strict: N.N[.N][a|bN])")
    major, minor, _, patch, pre, pre_num = m.groups()
    release = (int(major), int(minor), int(patch or 0))
    # no pre-release sorts after any pre-release of the same release
    return release, (1,) if pre is None else (0, pre[0], int(pre_num))


def _semver_key(version: str) -> tuple:
    m = _SEMVER.match(version)
    if not m:
        raise VersionError(f"invalid semantic version {version!r}")
    release = (int(m["major"]), int(m["minor"]), int(m["patch"]))
    if m["pre"] is None:
        return release, (1,)
    # numeric identifiers sort below alphanumeric ones; a shorter list of equal identifiers sorts first
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in m["pre"].split("."))
    return release, (0, parts)


def _pep440_key(version: str) -> Any:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version)
    except InvalidVersion:
        raise VersionError(f"invalid PEP 440 version {version!r}") from None


_TYPES: dict[str, Callable[[str], Any]] = {
    "loose": loose_key, "strict": _strict_key, "semver": _semver_key, "semantic": _semver_key,
    "pep440": _pep440_key,
}


def compare_versions(a: Any, b: Any, op: str = "eq", *, strict: bool | None = None,
                     version_type: str | None = None) -> bool:
    """`a op b` under the version type (Ansible's version test and its errors)."""
    if strict is not None and version_type is not None:
        raise VersionError("cannot specify both 'strict' and 'version_type'")
    if not a:
        raise VersionError("input version value cannot be empty")
    if not b:
        raise VersionError("version parameter to compare against cannot be empty")
    if op not in _OPS:
        raise VersionError(f"invalid operator type {op!r}; must be one of {', '.join(map(repr, _OPS))}")
    kind = "strict" if strict else (version_type or "loose")
    if kind not in _TYPES:
        raise VersionError(f"invalid version type {kind!r}; must be one of {', '.join(map(repr, _TYPES))}")
    key = _TYPES[kind]
    try:
        return _OPS[op](key(str(a)), key(str(b)))
    except TypeError:
        raise VersionError(f"version comparison failed: cannot compare {a!r} with {b!r} (loose: a number "
                           "part against a word part)") from None


def compare_padded(a: str, b: str, op: str = "eq") -> bool:
    """Package-manager style: '1.0' == '1.0.0' (missing parts are zero). For pip's specifiers, not the test."""
    ka = [(0, p) if isinstance(p, int) else (1, p) for p in loose_key(a.lower()) if p not in ("-", "_", "+", "~")]
    kb = [(0, p) if isinstance(p, int) else (1, p) for p in loose_key(b.lower()) if p not in ("-", "_", "+", "~")]
    width = max(len(ka), len(kb))
    ka += [(0, 0)] * (width - len(ka))
    kb += [(0, 0)] * (width - len(kb))
    return _OPS[op](ka, kb)
