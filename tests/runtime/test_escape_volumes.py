"""Escape through volume options: `-v` is read as Docker reads it (ro, rw, z, Z, nocopy, propagation; anything
else refused, never mounted read-write by mistake), `ro` is recursive, / cannot be a destination, and the
runtime never writes its /etc files into a host directory mounted as a volume."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

WRITE = "touch /data/new 2>/dev/null && echo wrote || echo refused"


@pytest.mark.parametrize("options", ["RO", "readonly", "ro,rw", "ro,ro", "z,Z", "shared", "rshared", "", "ro,",
                                     "bogus"])
def test_options_docker_refuses_are_refused(rt, tmp_path: Path, options: str) -> None:
    res = rt("run", "--rm", "-v", f"{tmp_path}:/data:{options}", "bb", "sh", "-c", WRITE)
    assert res.returncode == 125 and "invalid volume" in res.stderr, (res.stdout, res.stderr)
    assert not (tmp_path / "new").exists()


def test_options_docker_accepts(rt, tmp_path: Path) -> None:
    for options, expected in (("ro,z", "refused"), ("Z,ro", "refused"), ("nocopy,ro,rslave", "refused"),
                              ("rw", "wrote"), ("rprivate", "wrote"), ("slave,rw,nocopy", "wrote")):
        res = rt("run", "--rm", "-v", f"{tmp_path}:/data:{options}", "bb", "sh", "-c", WRITE)
        assert res.stdout.strip() == expected, (options, res.stdout, res.stderr)
    # (NAME:/path and a lone /path are named and anonymous volumes, as in Docker: test_volumes.py)
    for bad in (f"{tmp_path}:/", f"{tmp_path}://", f"{tmp_path}:/data/..", "_relative:/data", f"{tmp_path}:data",
                "relative", f"{tmp_path}:/a:ro:x", "vol:/data:bogus"):
        res = rt("run", "--rm", "-v", bad, "bb", "true")
        assert res.returncode == 125 and "invalid volume" in res.stderr, (bad, res.stderr)


def test_read_only_is_recursive(rt, tmp_path: Path) -> None:
    sub = tmp_path / "a sub"  # mountinfo escapes the space: the runtime must still find this mount
    sub.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "hostprep-test", str(sub)], check=True)
    try:
        res = rt("run", "--rm", "-v", f"{tmp_path}:/data:ro", "bb", "sh", "-c",
                 "for d in /data '/data/a sub'; do touch \"$d/x\" 2>/dev/null && echo wrote || echo refused; done; "
                 "grep ' /data' /proc/mounts | cut -d' ' -f4 | cut -d, -f1")
        assert res.stdout.split() == ["refused", "refused", "ro", "ro"], (res.stdout, res.stderr)
        assert list(sub.iterdir()) == []
        # the same tree mounted read-write is writable below too (the test can fail)
        res = rt("run", "--rm", "-v", f"{tmp_path}:/data", "bb", "sh", "-c", "touch '/data/a sub/x' && echo wrote")
        assert res.stdout.strip() == "wrote" and (sub / "x").exists(), res.stderr
    finally:
        subprocess.run(["umount", str(sub)], check=True)


def test_runtime_never_writes_into_a_volume(rt, tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    res = rt("run", "--rm", "--hostname", "h1", "-v", f"{etc}:/etc", "bb", "sh", "-c", "ls /etc | wc -l; hostname")
    assert res.stdout.split() == ["0", "h1"], (res.stdout, res.stderr)
    assert list(etc.iterdir()) == []
    hosts = tmp_path / "hosts"
    hosts.write_text("host's own\n")
    res = rt("run", "--rm", "-v", f"{hosts}:/etc/hosts:ro", "-v", f"{tmp_path}/etc:/etc/sub", "bb", "cat",
             "/etc/hosts")
    assert res.stdout == "host's own\n" and hosts.read_text() == "host's own\n", (res.stdout, res.stderr)
    # and without a volume the container still gets its files
    assert "localhost" in rt("run", "--rm", "bb", "cat", "/etc/hosts").stdout
