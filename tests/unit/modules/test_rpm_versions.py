"""rpm version rules: hostprep's rpmvercmp/EVR against known answers and against the real rpm (Lua rpm.vercmp)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from hostprep.modules._sysrpm import EVR, Nevra, PackageSpec, newest, parse_nevras, rpmvercmp

KNOWN = [  # (a, b, rpmvercmp(a, b)) -- rules documented by rpm
    ("1.0", "1.0", 0), ("1.0", "2.0", -1), ("2.0.1", "2.0", 1), ("2.0.1a", "2.0.1", 1), ("5.5p1", "5.5p2", -1),
    ("5.5p10", "5.5p1", 1), ("10xyz", "10.1xyz", -1), ("xyz10", "xyz10.1", -1), ("1.0~rc1", "1.0", -1),
    ("1.0~rc1", "1.0~rc2", -1), ("1.0^", "1.0", 1), ("1.0^git1", "1.0.1", -1), ("1.0^git1", "1.0^git2", -1),
    ("1.01", "1.1", 0), ("a", "1", -1), ("1.0a", "1.0.a", 0), ("26.1.4", "24.0.7", 1), ("1.0~", "1.0^", -1),
]


@pytest.mark.parametrize(("a", "b", "want"), KNOWN)
def test_rpmvercmp_known_answers(a: str, b: str, want: int) -> None:
    assert rpmvercmp(a, b) == want
    assert rpmvercmp(b, a) == -want


def test_rpmvercmp_and_evr_agree_with_the_real_rpm() -> None:
    rpm = shutil.which("rpm")
    assert rpm, "rpm is needed (ci/apt/modules_system.txt)"
    # full EVRs with each other, bare versions with each other (a missing release is a dependency
    # wildcard for hostprep, which rpm.vercmp does not model)
    full = ["1:24.0.7-1.lab", "3:24.0.7-1.el9", "24.0.7-1.el9", "26.1.4-1.lab", "1:26.1.4-1.lab", "2.03.21-1.lab",
            "1.0~rc1-1", "1.0-1", "1.0^20240101-1", "1.0-1.el9_2", "1.0-1.el9", "0:1.0-10", "1.0-9", "1.0a-1",
            "1.0.a-1", "1.0-1.fc39~beta"]
    bare = ["2.0", "1.10", "1.9", "1:1.9", "1.9.0", "1.9a", "1.9~a", "1.9^a", "0.9999", "10"]
    pairs = [(a, b) for group in (full, bare) for a in group for b in group]
    lua = "".join(f'print(rpm.vercmp("{a}", "{b}") .. " ") ' for a, b in pairs)
    out = subprocess.run([rpm, "--eval", f"%{{lua: {lua}}}"], capture_output=True, text=True, check=True).stdout
    answers = [int(x) for x in out.split()]
    assert len(answers) == len(pairs)
    mismatches = [(a, b, want, EVR.parse(a).compare(EVR.parse(b))) for (a, b), want in zip(pairs, answers, strict=True)
                  if EVR.parse(a).compare(EVR.parse(b)) != want]
    assert mismatches == []


def test_evr_and_nevra_parsing() -> None:
    assert EVR.parse("1:24.0.7-1.lab") == EVR(1, "24.0.7", "1.lab")
    assert EVR.parse("24.0.7") == EVR(0, "24.0.7", None)
    assert str(EVR.parse("0:2.03.21-1.lab")) == "2.03.21-1.lab"
    assert str(EVR.parse("3:24.0.7-1.el9")) == "3:24.0.7-1.el9"
    # a spec without release matches any release (pkg >= 24.0.7 is met by 24.0.7-5)
    assert EVR.parse("24.0.7").compare(EVR.parse("24.0.7-5")) == 0
    pkg = Nevra.parse("docker-ce-cli 1:24.0.7-1.lab.x86_64")
    assert pkg is not None and pkg.name == "docker-ce-cli" and pkg.arch == "x86_64"
    assert pkg.spec == "docker-ce-cli-1:24.0.7-1.lab.x86_64"
    assert str(pkg) == "docker-ce-cli-1:24.0.7-1.lab.x86_64"
    # rpm's own messages in a probe section are not packages
    text = "package nosuch is not installed\nlvm2 0:2.03.21-1.lab.noarch\nrc=0\n"
    assert [p.name for p in parse_nevras(text)] == ["lvm2"]
    found = parse_nevras("a 0:1.0-1.noarch\na 0:1.10-1.noarch\na 0:1.9-1.noarch\n")
    top = newest(found)
    assert top is not None and top.evr.version == "1.10"


def test_package_specs() -> None:
    assert PackageSpec.parse("docker-ce").kind == "plain"
    rel = PackageSpec.parse("docker-ce >= 3:24.0")
    assert (rel.kind, rel.name, rel.op, rel.evr) == ("relation", "docker-ce", ">=", EVR(3, "24.0", None))
    assert PackageSpec.parse("python3>=3.9").name == "python3"
    assert PackageSpec.parse("python*").kind == "glob"
    assert PackageSpec.parse("/tmp/x-1.0-1.noarch.rpm").kind == "file"
    assert PackageSpec.parse("https://example.invalid/x.rpm").kind == "url"
    installed = Nevra.parse("docker-ce 3:24.0.7-1.el9.x86_64")
    assert installed is not None
    assert rel.matches(installed)
    assert not PackageSpec.parse("docker-ce < 3:24.0").matches(installed)
    assert not PackageSpec.parse("other >= 1").matches(installed)
