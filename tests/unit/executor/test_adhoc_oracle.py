"""`hostprep run` against the `ansible` command: the same ad-hoc output for ping and commands, the same
distribution facts from setup, and bad input refused before any host is contacted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def run(tool: str, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    inv = tmp / "inv.ini"
    local = f"ansible_connection=local ansible_python_interpreter={sys.executable}"
    inv.write_text(f"[web]\nh1 {local}\nh2 {local}\n")
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(tmp / ".ansible"),
           "ANSIBLE_LOCAL_TEMP": str(tmp / ".atmp")}
    cmd = [str(BIN / tool), *(["run"] if tool == "hostprep" else []), *args, "-i", str(inv)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, env=env, timeout=300)


def blocks(stdout: str) -> list[str]:
    """Per-host output blocks in host order (ad-hoc output arrives in completion order)."""
    parts, current = [], []
    for line in stdout.splitlines():
        if line.startswith(("h1 |", "h2 |")) and current:
            parts.append("\n".join(current))
            current = []
        current.append(line)
    return sorted(parts + (["\n".join(current)] if current else []))


@pytest.mark.parametrize("args", [
    ["web", "-m", "ping"], ["h1", "-m", "ping", "-a", "data=hello"], ["all", "-a", "echo hi there"],
    ["h2", "-m", "shell", "-a", "echo out; echo err >&2"], ["h1", "-m", "ping", "-o"], ["h1", "-a", "echo a", "-o"],
], ids=lambda a: " ".join(a))
def test_adhoc_output_matches_ansible(tmp_path: Path, args: list[str]) -> None:
    ours, theirs = run("hostprep", tmp_path, *args), run("ansible", tmp_path, *args)
    assert ours.returncode == theirs.returncode == 0, ours.stderr + theirs.stderr
    assert blocks(ours.stdout) == blocks(theirs.stdout)


def test_setup_gathers_the_same_distribution_facts(tmp_path: Path) -> None:
    facts = {}
    for tool in ("hostprep", "ansible"):
        proc = run(tool, tmp_path, "h1", "-m", "setup", "-a", "filter=ansible_distribution*", "-o")
        assert proc.returncode == 0, proc.stderr
        data = json.loads(proc.stdout.split("=>", 1)[1])["ansible_facts"]
        facts[tool] = {k.removeprefix("ansible_"): v for k, v in data.items()
                       if k.removeprefix("ansible_") in ("distribution", "distribution_major_version")}
    assert facts["hostprep"] == facts["ansible"] and facts["hostprep"]


@pytest.mark.parametrize("args,message", [
    (["h1", "-m", "pingg"], "module 'pingg' is not supported by hostprep (close names: ping)"),
    (["nosuchhost", "-m", "ping"], "no hosts matched 'nosuchhost'"),
    (["h1", "-m", "command"], "-a 'COMMAND' is required"),
    (["h1", "-m", "ping", "-a", "bogus=1"], "unsupported argument"),
])
def test_adhoc_bad_input_exit_3(tmp_path: Path, args: list[str], message: str) -> None:
    proc = run("hostprep", tmp_path, *args)
    assert proc.returncode == 3 and message in proc.stderr, proc.stderr
