"""The zipapp build roles/runtime ships: reproducible (the same sources give the same bytes, so a fleet has one
checksum), built once per content (`--cached` keeps the key beside the file), and runnable by the interpreter
the #! line names, here Python 3.6 with .pyc of another version (zipimport falls back to the sources)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from hostprep.runtime import build
from tests.runtime.support import python36


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_builds_of_the_same_sources_are_the_same_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.pyz", tmp_path / "b.pyz"
    build.build(str(a), "/usr/local/libexec/hostprep-runtime/python3")
    build.build(str(b), "/usr/local/libexec/hostprep-runtime/python3")
    assert _sha(a) == _sha(b)
    assert a.read_bytes().startswith(b"#!/usr/local/libexec/hostprep-runtime/python3 -ISc")
    assert _sha(a) != _sha(Path(build.build(str(tmp_path / "c.pyz"), "/usr/bin/python3")))


def test_cached_build_runs_once_per_content(tmp_path: Path) -> None:
    out = tmp_path / "cache" / "hostprep-runtime.pyz"
    cmd = [sys.executable, "-m", "hostprep.runtime.build", "--cached", str(out), "--python", "/opt/py/python3"]
    first = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert first.stdout.strip() == str(out)
    key = (out.parent / "hostprep-runtime.pyz.key").read_text().strip()
    assert key == build.content_key("/opt/py/python3")
    stamp = out.stat().st_mtime_ns
    subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert out.stat().st_mtime_ns == stamp  # not built again
    (out.parent / "hostprep-runtime.pyz.key").write_text("stale\n")
    subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert out.stat().st_mtime_ns != stamp and (out.parent / "hostprep-runtime.pyz.key").read_text().strip() == key


def test_python36_runs_the_build_of_another_python(tmp_path: Path) -> None:
    out = tmp_path / "rt.pyz"
    build.build(str(out), "/nonexistent/python3")  # compiled by this interpreter, not 3.6
    env = dict(os.environ, HOSTPREP_RUNTIME_ROOT=str(tmp_path / "state"))
    res = subprocess.run([python36(), str(out), "images", "--format", "json"], capture_output=True, text=True,
                         env=env)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stderr
