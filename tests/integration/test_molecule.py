"""`molecule test` for every scenario: create (hostprep lab up), converge (hostprep apply), idempotence
(a second apply must change nothing), verify (testinfra through hostprep verify), destroy.

The default run has `default` (EL9, EL8 and EL7 hosts in one scenario) and `runtime`. The one-release scenarios
(`el7`, `el8`, `el9`) are `default` cut to one of its platforms -- the test below checks that, file against
file -- so running them as well would repeat three of default's hosts; they run with `-m molecule_one_release`
(pytest) or `molecule test -s el9`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ALL = sorted(p.name for p in (ROOT / "molecule").iterdir() if (p / "molecule.yml").exists())
ONE_RELEASE = ["el7", "el8", "el9"]
SCENARIOS = ["default", "runtime"]  # vm: its own test below, marked vm_scenario (not run by default)


def test_every_scenario_is_listed() -> None:
    assert ALL == ["default", "el7", "el8", "el9", "runtime", "vm"] == sorted(SCENARIOS + ONE_RELEASE + ["vm"])


def _scenario(name: str) -> dict:
    return yaml.safe_load((ROOT / "molecule" / name / "molecule.yml").read_text())


def test_each_one_release_scenario_is_default_cut_to_that_release() -> None:
    """What lets the default run leave el7/el8/el9 out: each is `default` but for its one platform, and
    together they are default's platforms."""
    default = _scenario("default")
    flavors = []
    for name in ONE_RELEASE:
        one = _scenario(name)
        assert {k: v for k, v in one.items() if k != "platforms"} == \
            {k: v for k, v in default.items() if k != "platforms"}, name
        (platform,) = one["platforms"]
        assert platform["flavor"] == name and set(platform) == {"name", "flavor"}, platform
        flavors.append(platform["flavor"])
    assert sorted(p["flavor"] for p in default["platforms"]) == sorted(flavors)
    assert all(set(p) == {"name", "flavor"} for p in default["platforms"])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario: str, tmp_path: Path) -> None:
    _molecule_test(scenario, tmp_path, timeout=1200)


@pytest.mark.molecule_one_release
@pytest.mark.parametrize("scenario", ONE_RELEASE)
def test_molecule_one_release_scenario(scenario: str, tmp_path: Path) -> None:
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
