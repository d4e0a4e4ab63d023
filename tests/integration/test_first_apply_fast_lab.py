"""The first apply at the package manager's speed changes nothing in what it does (issue 20): on fresh twin lab
hosts of each EL release, roles/docker (with daemon.json, its restart handler and a docker-group member, as
bench/fleet runs it) applied with the fast path — dnf deciding a missing package in its own transaction,
change commands carrying the next probes — gives every task the status step-by-step execution
(`--no-fast-path`) gives it, leaves the same end state, and takes fewer round trips; the --json summary's
profile accounts for the run per task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.labutil import hostprep, snapshot, ssh, write_inventory

ROOT = Path(__file__).resolve().parents[2]
PLAY = """\
- hosts: all
  become: true
  roles:
    - role: docker
      vars:
        docker_users: [deploy]
        docker_daemon_config: {log-driver: journald, live-restore: true}
"""


def _apply(tmp: Path, inv: Path, *extra: str) -> tuple[list[tuple[str, str]], dict]:
    proc = hostprep("apply", "-i", str(inv), str(tmp / "play.yml"), "--json", *extra, cwd=tmp)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-2000:])
    statuses: list[tuple[str, str]] = []
    summary: dict = {}
    for line in proc.stdout.splitlines():
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if event.get("event") == "task_result":
            statuses.append((event["task"], event["status"]))
        elif event.get("event") == "summary":
            summary = next(iter(event["hosts"].values()))
    return statuses, summary


@pytest.mark.parametrize("flavor", ["el9", "el8", "el7"])
def test_first_apply_fast_and_step_by_step_agree(lab, tmp_path: Path, flavor: str) -> None:
    (tmp_path / "play.yml").write_text(PLAY)
    fast_host, slow_host = lab.up(2, flavor, f"first{flavor[-1]}")
    for h in (fast_host, slow_host):
        assert ssh(h, "systemctl is-system-running --wait").stdout.strip() in ("running", "degraded")
    fast_inv = write_inventory(tmp_path / "fast.yml", [fast_host])
    slow_inv = write_inventory(tmp_path / "slow.yml", [slow_host])
    fast, fast_sum = _apply(tmp_path, fast_inv)
    slow, slow_sum = _apply(tmp_path, slow_inv, "--no-fast-path")
    assert fast == slow
    assert fast_sum["changed"] == slow_sum["changed"] >= 10, (fast_sum, slow_sum)
    assert fast_sum["round_trips"] < slow_sum["round_trips"], (fast_sum, slow_sum)
    assert snapshot(fast_host) == snapshot(slow_host)
    # the profile: one entry per task that ran, its round trips adding up to the host's (facts aside)
    profile = fast_sum["profile"]
    assert fast_sum["round_trips"] - 2 <= sum(t["round_trips"] for t in profile["tasks"]) <= fast_sum["round_trips"]
    engine = next(t for t in profile["tasks"] if t["task"].startswith("docker : Install Docker Engine (latest"))
    assert engine["status"] == "changed" and engine["round_trips"] <= 2, engine
    # an upload is one round trip that carries the next probes (and the stat copy/template report), a change the
    # probes of the next task that runs and of the handlers a flush runs, and what user reads after its change
    trips = {t["task"]: t["round_trips"] for t in profile["tasks"]}
    # (its probe comes with the prerequisites' install where that changes (EL7), past rpm_key: one trip more)
    assert trips["docker : Add the docker-ce repository (stable channel)"] <= 2, profile
    assert trips["docker : Declare Docker's test and nightly channels, off and off"] == 2, profile
    assert trips["docker : Create /etc/docker"] == 1, profile
    assert trips["docker : Write /etc/docker/daemon.json"] == 1, profile
    assert trips["docker : Add users to the docker group"] == 1, profile
    assert trips["docker : Restart docker"] == 1, profile
    assert fast_sum["round_trips"] <= {"el9": 17, "el8": 18, "el7": 20}[flavor], profile  # EL9: 27 before these
    again, again_sum = _apply(tmp_path, fast_inv)
    assert again_sum["changed"] == 0 and again_sum["round_trips"] == 2, again_sum
