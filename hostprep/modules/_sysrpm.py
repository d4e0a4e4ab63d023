"""RPM version logic for the package modules: rpmvercmp, EVR comparison, package specs, probe lines.

Why in Python: the host has only a POSIX shell (no rpm Python bindings are assumed), and
`rpm --eval` comparisons would cost a round trip per package. The probe prints installed and
candidate versions; the comparison happens here, on the controller, where it can be unit-tested.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

# what every rpm/repoquery line in a probe looks like: "NAME EPOCH:VERSION-RELEASE.ARCH"
RPM_QF = "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}\\n"
REPOQUERY_QF = "%{name} %{epoch}:%{version}-%{release}.%{arch}"

_SEGMENT = re.compile(r"([0-9]+|[A-Za-z]+)")
_REL = re.compile(r"^\s*([^\s<>=!]+)\s*(<=|>=|==|=|<|>)\s*(\S+)\s*$")
_GLOB = re.compile(r"[*?\[]")


def _alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def rpmvercmp(a: str, b: str) -> int:
    """Compare two version (or release) strings the way rpm does: -1, 0 or 1.

    Digits compare numerically, letters lexically, digits beat letters, `~` sorts before
    everything (even the end: 1.0~rc1 < 1.0), `^` after the end but before anything else.
    """
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        while i < len(a) and not _alnum(a[i]) and a[i] not in "~^":
            i += 1
        while j < len(b) and not _alnum(b[j]) and b[j] not in "~^":
            j += 1
        a_tilde = i < len(a) and a[i] == "~"
        b_tilde = j < len(b) and b[j] == "~"
        if a_tilde or b_tilde:
            if not (a_tilde and b_tilde):
                return -1 if a_tilde else 1
            i, j = i + 1, j + 1
            continue
        a_caret = i < len(a) and a[i] == "^"
        b_caret = j < len(b) and b[j] == "^"
        if a_caret or b_caret:
            if i >= len(a):
                return -1
            if j >= len(b):
                return 1
            if not (a_caret and b_caret):
                return -1 if a_caret else 1
            i, j = i + 1, j + 1
            continue
        if i >= len(a) or j >= len(b):
            break
        seg_a = _SEGMENT.match(a, i)
        seg_b = _SEGMENT.match(b, j)
        assert seg_a is not None and seg_b is not None
        sa, sb = seg_a.group(), seg_b.group()
        a_num = sa[0].isdigit()
        if a_num != sb[0].isdigit():
            return 1 if a_num else -1
        if a_num:
            na, nb = sa.lstrip("0"), sb.lstrip("0")
            if len(na) != len(nb):
                return 1 if len(na) > len(nb) else -1
            if na != nb:
                return 1 if na > nb else -1
        elif sa != sb:
            return 1 if sa > sb else -1
        i, j = seg_a.end(), seg_b.end()
    rest_a, rest_b = i < len(a), j < len(b)
    if rest_a == rest_b:
        return 0
    return 1 if rest_a else -1


@dataclass(frozen=True)
class EVR:
    """Epoch, version and release; a missing release matches any release (as in `pkg >= 1.2`)."""

    epoch: int
    version: str
    release: str | None = None

    @classmethod
    def parse(cls, text: str) -> EVR:
        epoch, sep, rest = text.partition(":")
        if not sep:
            epoch, rest = "0", text
        version, dash, release = rest.rpartition("-")
        if not dash:
            version, release = release, ""
        return cls(int(epoch or 0), version, release or None)

    def compare(self, other: EVR) -> int:
        if self.epoch != other.epoch:
            return 1 if self.epoch > other.epoch else -1
        cmp = rpmvercmp(self.version, other.version)
        if cmp or self.release is None or other.release is None:
            return cmp
        return rpmvercmp(self.release, other.release)

    def __str__(self) -> str:
        text = f"{self.version}-{self.release}" if self.release else self.version
        return f"{self.epoch}:{text}" if self.epoch else text


@dataclass(frozen=True)
class Nevra:
    """One installed or available package, parsed from a probe line `NAME E:V-R.ARCH`."""

    name: str
    evr: EVR
    arch: str

    @classmethod
    def parse(cls, line: str) -> Nevra | None:
        name, _, rest = line.strip().partition(" ")
        if not name or not rest or " " in rest:
            return None
        evr_text, dot, arch = rest.rpartition(".")
        if not dot:
            return None
        return cls(name, EVR.parse(evr_text), arch)

    @property
    def spec(self) -> str:
        """A spec dnf/yum accept for exactly this package (name-epoch:version-release.arch)."""
        return f"{self.name}-{self.evr.epoch}:{self.evr.version}-{self.evr.release}.{self.arch}"

    def __str__(self) -> str:
        return f"{self.name}-{self.evr}.{self.arch}"


def parse_nevras(text: str) -> list[Nevra]:
    """Every well-formed package line of a probe section (rpm's 'is not installed' lines drop out)."""
    return [n for n in (Nevra.parse(line) for line in text.splitlines()) if n is not None]


_OPS = {"<": lambda c: c < 0, "<=": lambda c: c <= 0, "=": lambda c: c == 0, "==": lambda c: c == 0,
        ">=": lambda c: c >= 0, ">": lambda c: c > 0}


@dataclass(frozen=True)
class PackageSpec:
    """A package as the user wrote it: kind is plain, relation (`pkg >= 1.2`), glob, file or url."""

    raw: str
    kind: str
    name: str
    op: str | None = None
    evr: EVR | None = None

    @classmethod
    def parse(cls, raw: str) -> PackageSpec:
        text = raw.strip()
        if text.endswith(".rpm"):
            return cls(text, "url" if "://" in text else "file", text)
        m = _REL.match(text)
        if m:
            return cls(text, "relation", m.group(1), m.group(2), EVR.parse(m.group(3)))
        if _GLOB.search(text):
            return cls(text, "glob", text)
        return cls(text, "plain", text)

    def matches(self, pkg: Nevra) -> bool:
        """Whether an installed package satisfies a relation spec (other kinds: rpm already matched)."""
        if self.kind != "relation":
            return True
        assert self.op is not None and self.evr is not None
        return pkg.name == self.name and _OPS[self.op](pkg.evr.compare(self.evr))


def newest(pkgs: list[Nevra]) -> Nevra | None:
    """The package with the highest EVR (None for an empty list)."""
    best: Nevra | None = None
    for p in pkgs:
        if best is None or p.evr.compare(best.evr) > 0:
            best = p
    return best


@dataclass(frozen=True)
class Update:
    """One line of `dnf/yum check-update`: an installed package's name and arch with a newer version."""

    name: str
    arch: str
    evr: str
    repo: str


def parse_check_update(text: str) -> tuple[int, list[Update]] | None:
    """The exit status and the updates from check-update's listing followed by an `rc=N` line.

    The listing is three columns (NAME.ARCH, EVR, repository); yum and dnf put a long name on a
    line of its own, so the words are read in threes regardless of lines. The "Obsoleting
    Packages" part has the same three columns (the obsoleted package indented below each).
    Anything else (an unexpected message) makes the listing unreadable: None, and the caller
    asks dnf the exact question instead of guessing.
    """
    lines = text.rstrip("\n").split("\n")
    if not lines or not lines[-1].startswith("rc="):
        return None
    try:
        rc = int(lines[-1][3:])
    except ValueError:
        return None
    words = [w for line in lines[:-1] if line.strip() != "Obsoleting Packages" for w in line.split()]
    if len(words) % 3:
        return None
    updates = []
    for i in range(0, len(words), 3):
        name, dot, arch = words[i].rpartition(".")
        if not dot or not name or not arch:
            return None
        updates.append(Update(name, arch, words[i + 1], words[i + 2]))
    return rc, updates


def _glob_hits(update: Update, pattern: str) -> bool:
    return fnmatch.fnmatchcase(update.name, pattern) or fnmatch.fnmatchcase(f"{update.name}.{update.arch}", pattern)


def updates_for(updates: list[Update], pattern: str, exclude: list[str]) -> list[Update]:
    """The updates whose package matches `pattern` (name or name.arch glob), minus `exclude`'s."""
    return [u for u in updates if _glob_hits(u, pattern) and not any(_glob_hits(u, e) for e in exclude)]
