"""hostprep inventory prints what the real ansible-inventory prints, on a varied set of inventories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "data" / "inventories"
BIN = Path(sys.executable).parent

CASES = {
    "ini_basic": [DATA / "ini_basic" / "hosts.ini"],
    "yaml_nested": [DATA / "yaml_nested" / "hosts.yml"],
    "dir_mixed": [DATA / "dir_mixed"],
    "ranges": [DATA / "ranges" / "hosts"],
    "merged_sources": [DATA / "ini_basic" / "hosts.ini", DATA / "yaml_nested" / "hosts.yml", DATA / "dir_mixed"],
}


def _env(tmp: Path) -> dict[str, str]:
    cfg = tmp / "ansible.cfg"
    cfg.write_text("[defaults]\ndeprecation_warnings = False\nlocalhost_warning = False\n")
    return dict(os.environ, ANSIBLE_CONFIG=str(cfg), ANSIBLE_HOME=str(tmp / "ah"), ANSIBLE_NOCOLOR="1")


def _run(cmd: list[str], env: dict[str, str]) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, f"{cmd[0]} failed: {proc.stderr}"
    return json.loads(proc.stdout)


def _args(sources: list[Path]) -> list[str]:
    out: list[str] = []
    for s in sources:
        out += ["-i", str(s)]
    return out


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("export", [False, True], ids=["list", "export"])
def test_list_matches_ansible_inventory(case: str, export: bool, tmp_path: Path) -> None:
    env = _env(tmp_path)
    extra = ["--export"] if export else []
    ours = _run([str(BIN / "hostprep"), "inventory", *_args(CASES[case]), "--list", *extra], env)
    theirs = _run([str(BIN / "ansible-inventory"), *_args(CASES[case]), "--list", *extra], env)
    assert ours == theirs


@pytest.mark.parametrize("case", sorted(CASES))
def test_host_matches_ansible_inventory_for_every_host(case: str, tmp_path: Path) -> None:
    env = _env(tmp_path)
    listing = _run([str(BIN / "ansible-inventory"), *_args(CASES[case]), "--list"], env)
    hosts = set(listing["_meta"]["hostvars"])
    for group in listing.values():
        hosts.update(group.get("hosts", []) if isinstance(group, dict) else [])
    assert hosts, "the case must have hosts"
    for host in sorted(hosts):
        ours = _run([str(BIN / "hostprep"), "inventory", *_args(CASES[case]), "--host", host], env)
        theirs = _run([str(BIN / "ansible-inventory"), *_args(CASES[case]), "--host", host], env)
        assert ours == theirs, host
