"""`molecule test` for every scenario: create (hostprep lab up), converge (hostprep apply), idempotence
(a second apply must change nothing), verify (testinfra through hostprep verify), destroy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.name for p in (ROOT / "molecule").iterdir() if (p / "molecule.yml").exists())


def test_every_scenario_is_listed() -> None:
    assert SCENARIOS == ["default", "el7", "el8", "el9"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario: str, tmp_path: Path) -> None:
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=f"{bindir}:{os.environ.get('PATH', '')}", ANSIBLE_HOME=str(tmp_path / "ah"),
               ANSIBLE_NOCOLOR="1", NO_COLOR="1", ANSIBLE_FORCE_COLOR="0", MOLECULE_NO_LOG="false")
    proc = subprocess.run([f"{bindir}/molecule", "test", "-s", scenario], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=1200)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    for step in ("create", "converge", "idempotence", "verify", "destroy"):
        assert f"{step}: Executed: Successful" in out.replace("\x1b", ""), step
