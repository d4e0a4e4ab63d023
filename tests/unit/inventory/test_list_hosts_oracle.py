"""`hostprep run PATTERN --list-hosts` prints what `ansible PATTERN --list-hosts` prints (same text, same exit
code), with --limit, for patterns that match several groups, none, or a subscript, on the torture inventories."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "data" / "inventories"
BIN = Path(sys.executable).parent

CASES = [
    (DATA / "patterns" / "hosts.ini", "all", None),
    (DATA / "patterns" / "hosts.ini", "g1:g2:!n4", None),
    (DATA / "patterns" / "hosts.ini", "web*[0:2]", "~web0[13]"),
    (DATA / "patterns" / "hosts.ini", "nothing", None),
    (DATA / "ini_torture", "all", "prod:!web"),
]


def _env(tmp: Path) -> dict[str, str]:
    cfg = tmp / "ansible.cfg"
    cfg.write_text("[defaults]\ndeprecation_warnings = False\nlocalhost_warning = False\n"
                   "host_pattern_mismatch = ignore\n")
    return dict(os.environ, ANSIBLE_CONFIG=str(cfg), ANSIBLE_HOME=str(tmp / "ah"), ANSIBLE_NOCOLOR="1")


@pytest.mark.parametrize(("source", "pattern", "limit"), CASES, ids=[f"{c[0].parent.name}-{c[1]}" for c in CASES])
def test_run_list_hosts_is_ansibles(source: Path, pattern: str, limit: str | None, tmp_path: Path) -> None:
    if not source.exists():
        raise AssertionError(f"missing test inventory {source}")
    env = _env(tmp_path)
    args = [pattern, "-i", str(source), "--list-hosts", *(["-l", limit] if limit else [])]
    theirs = subprocess.run([str(BIN / "ansible"), *args], capture_output=True, text=True, env=env, timeout=120,
                            cwd=tmp_path)
    ours = subprocess.run([str(BIN / "hostprep"), "run", *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=tmp_path)
    assert theirs.returncode == 0, theirs.stderr
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), ours.stderr
    assert ours.stdout.startswith("  hosts (")
