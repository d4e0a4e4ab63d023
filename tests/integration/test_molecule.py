"""`molecule test` for every scenario: create (hostprep lab up), converge (hostprep apply), idempotence
(a second apply must change nothing), verify (testinfra through hostprep verify), destroy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALL = sorted(p.name for p in (ROOT / "molecule").iterdir() if (p / "molecule.yml").exists())
SCENARIOS = [s for s in ALL if s != "vm"]  # vm: its own test below, marked vm_scenario (not run by default)


def test_every_scenario_is_listed() -> None:
    assert ALL == ["default", "el7", "el8", "el9", "runtime", "vm"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario: str, tmp_path: Path) -> None:
    _molecule_test(scenario, tmp_path, timeout=1200)


@pytest.mark.vm_scenario
@pytest.mark.timeout(3600)
def test_molecule_vm_scenario(tmp_path: Path) -> None:
    """converge, idempotence and both verify suites on a QEMU VM (own kernel); minutes under TCG."""
    _molecule_test("vm", tmp_path, timeout=3600)


def _molecule_test(scenario: str, tmp_path: Path, timeout: int) -> None:
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=f"{bindir}:{os.environ.get('PATH', '')}", ANSIBLE_HOME=str(tmp_path / "ah"),
               ANSIBLE_NOCOLOR="1", NO_COLOR="1", ANSIBLE_FORCE_COLOR="0", MOLECULE_NO_LOG="false")
    proc = subprocess.run([f"{bindir}/molecule", "test", "-s", scenario], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    for step in ("create", "converge", "idempotence", "verify", "destroy"):
        assert f"{step}: Executed: Successful" in out.replace("\x1b", ""), step
