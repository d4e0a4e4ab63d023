"""File modules run for real through LocalTransport on a tmp tree: converge, no-op re-run, check mode leaves bytes."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from hostprep.errors import ModuleArgError
from hostprep.modules import get_module
from hostprep.modules.base import TaskContext
from hostprep.transport.local import LocalTransport


def run(name: str, raw: dict, *, check: bool = False) -> dict:
    mod = get_module(name)()
    args = mod.validate(raw)
    return mod.run(args, TaskContext(transport=LocalTransport(), host="localhost", check_mode=check))


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under root with its bytes (None for directories), to prove check mode changes nothing."""
    return {str(p): (None if p.is_dir() else p.read_bytes()) for p in sorted(root.rglob("*"))}


CASES = [
    ("copy", lambda d: {"dest": str(d / "a.conf"), "content": "x=1\n", "mode": "0640"}),
    ("file", lambda d: {"path": str(d / "sub"), "state": "directory", "mode": "u=rwx,g=rx,o="}),
    ("lineinfile", lambda d: {"path": str(d / "l.txt"), "line": "k=2", "regexp": "^k=", "create": True}),
    ("blockinfile", lambda d: {"path": str(d / "b.txt"), "block": "one\ntwo", "create": True}),
    ("ini_file", lambda d: {"path": str(d / "i.ini"), "section": "s", "option": "o", "value": "v"}),
]


@pytest.mark.parametrize("name,make", CASES, ids=[c[0] for c in CASES])
def test_converge_idempotent_and_check_mode(tmp_path: Path, name: str, make) -> None:
    (tmp_path / "l.txt").write_text("k=1\n")
    raw = make(tmp_path)
    before = snapshot(tmp_path)
    assert run(name, raw, check=True)["changed"] is True
    assert snapshot(tmp_path) == before
    assert run(name, raw)["changed"] is True
    assert snapshot(tmp_path) != before
    after = snapshot(tmp_path)
    assert run(name, raw)["changed"] is False
    assert run(name, raw, check=True)["changed"] is False
    assert snapshot(tmp_path) == after


def test_written_content_and_mode(tmp_path: Path) -> None:
    run("copy", {"dest": str(tmp_path / "a.conf"), "content": "x=1\n", "mode": "0640"})
    assert (tmp_path / "a.conf").read_text() == "x=1\n"
    assert (tmp_path / "a.conf").stat().st_mode & 0o7777 == 0o640
    run("lineinfile", {"path": str(tmp_path / "l.txt"), "line": "k=2", "regexp": "^k=", "create": True})
    assert (tmp_path / "l.txt").read_text() == "k=2\n"
    run("file", {"path": str(tmp_path / "d"), "state": "directory", "mode": "u=rwx,g=rx,o="})
    assert (tmp_path / "d").stat().st_mode & 0o7777 == 0o750


def test_stat_and_slurp_report_real_file(tmp_path: Path) -> None:
    target = tmp_path / "s.bin"
    target.write_bytes(b"hello\n")
    st = run("stat", {"path": str(target)})["stat"]
    assert st["exists"] and st["isreg"] and st["size"] == 6
    assert st["checksum"] == hashlib.sha1(b"hello\n").hexdigest()
    assert run("stat", {"path": str(tmp_path / "missing")})["stat"]["exists"] is False
    slurped = run("slurp", {"src": str(target)})
    assert base64.b64decode(slurped["content"]) == b"hello\n"


def test_command_creates_skips(tmp_path: Path) -> None:
    marker = tmp_path / "m"
    res = run("command", {"argv": ["touch", str(marker)], "creates": str(marker)})
    assert res["changed"] is True and res["rc"] == 0 and marker.exists()
    assert run("command", {"argv": ["touch", str(marker)], "creates": str(marker)})["changed"] is False


def test_unknown_argument_refused() -> None:
    with pytest.raises(ModuleArgError):
        get_module("copy")().validate({"dest": "/tmp/x", "content": "a", "no_such_arg": 1})


def test_file_link_and_absent(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("t")
    link = {"path": str(tmp_path / "ln"), "src": str(tmp_path / "t"), "state": "link"}
    assert run("file", link)["changed"] is True
    assert (tmp_path / "ln").is_symlink()
    assert run("file", link)["changed"] is False
    gone = {"path": str(tmp_path / "t"), "state": "absent"}
    assert run("file", gone)["changed"] is True and not (tmp_path / "t").exists()
    assert run("file", gone)["changed"] is False


def test_shell_reports_output(tmp_path: Path) -> None:
    res = run("shell", {"cmd": "echo out; echo err >&2; exit 3", "chdir": str(tmp_path)})
    assert res["rc"] == 3 and res["stdout"] == "out" and res["stderr"] == "err"
