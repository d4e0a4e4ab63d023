"""roles/docker on lab hosts of every EL release: converge, re-run without change, verify with testinfra;
pinning with upgrade and downgrade; daemon.json with its restart handler; docker group members."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.labutil import failures, hostprep, ssh, summary, write_inventory

ROOT = Path(__file__).resolve().parents[2]


def _apply(inv: Path, *extra: str) -> dict:
    proc = hostprep("apply", "-i", str(inv), str(ROOT / "site.yml"), "--json", "--detailed-exitcode", *extra,
                    cwd=ROOT)
    bad = [(f["task"], f["result"].get("msg")) for f in failures(proc)]
    assert proc.returncode in (0, 2) and not bad, (proc.returncode, bad, proc.stderr[-2000:])
    return {"rc": proc.returncode, "summary": summary(proc)}


@pytest.mark.parametrize("flavor", ["el9", "el8", "el7"])
def test_role_converges_is_idempotent_and_verifies(lab, tmp_path: Path, flavor: str) -> None:
    hosts = lab.up(1, flavor, f"docker{flavor[-1]}")
    inv = write_inventory(tmp_path / "inv.yml", hosts)
    first = _apply(inv)
    assert first["rc"] == 2
    second = _apply(inv)
    assert second["rc"] == 0, second
    assert all(s["changed"] == 0 for s in second["summary"].values())
    # the fast path: a converged host costs one round trip for facts and every probe, one for the docker
    # role's three read-only checks at its end (docker version, docker info, compose version) and one for
    # the runtime role's smoke test at its end (site.yml runs both roles)
    assert all(s["round_trips"] == 3 for s in second["summary"].values()), second
    # the same as `deploy` with sudo and a password: segments under sudo share the one round trip
    deploy_inv = write_inventory(tmp_path / "deploy.yml", hosts, deploy=True)
    for _ in range(2):
        as_deploy = _apply(deploy_inv)
    assert as_deploy["rc"] == 0, as_deploy
    assert all(s["round_trips"] == 3 for s in as_deploy["summary"].values()), as_deploy
    (h,) = hosts
    assert ssh(h, "docker info --format '{{.ServerVersion}}'").returncode == 0
    expected_compose = "docker-compose version" if flavor == "el7" else "docker compose version"
    assert "2.26" in ssh(h, expected_compose).stdout
    if flavor == "el7":
        for pkg in ("yum-utils", "device-mapper-persistent-data", "lvm2"):
            assert ssh(h, f"rpm -q {pkg}").returncode == 0, pkg
    verify = hostprep("verify", "-i", str(inv), "-v", cwd=ROOT)
    assert verify.returncode == 0, verify.stdout[-3000:]
    assert "PASS" in verify.stdout


def test_pin_upgrade_downgrade_daemon_json_and_users(lab, tmp_path: Path) -> None:
    hosts = lab.up(1, "el9", "dockerpin")
    (h,) = hosts
    assert ssh(h, "useradd -m alice && useradd -m bob").returncode == 0
    inv = write_inventory(tmp_path / "inv.yml", hosts, extra={
        "docker_version": "24.0.7", "docker_users": ["alice", "bob"],
        "docker_daemon_config": {"log-driver": "journald", "live-restore": True},
    })
    _apply(inv)
    assert ssh(h, "rpm -q --qf '%{VERSION}' docker-ce docker-ce-cli").stdout == "24.0.724.0.7"
    assert json.loads(ssh(h, "cat /etc/docker/daemon.json").stdout) == {"log-driver": "journald",
                                                                       "live-restore": True}
    assert ssh(h, "docker info --format '{{.LoggingDriver}}'").stdout.strip() == "journald"
    assert "docker" in ssh(h, "id -nG alice").stdout.split()
    assert "docker" in ssh(h, "id -nG bob").stdout.split()
    # upgrade to the pin, then downgrade to an older pin
    up = write_inventory(tmp_path / "inv2.yml", hosts, extra={"docker_version": "26.1.4"})
    assert _apply(up)["rc"] == 2
    assert ssh(h, "rpm -q --qf '%{VERSION}' docker-ce").stdout == "26.1.4"
    down = write_inventory(tmp_path / "inv3.yml", hosts, extra={"docker_version": "25.0.5"})
    assert _apply(down)["rc"] == 2
    assert ssh(h, "rpm -q --qf '%{VERSION}' docker-ce docker-ce-cli").stdout == "25.0.525.0.5"
    # the baseline is taken right before the changes it judges: a no-op run keeps dockerd's PID (so a PID
    # that moves below is the handler's doing, not the upgrade's or the downgrade's) ...
    pid_before = ssh(h, "systemctl show -p MainPID --value docker").stdout.strip()
    assert pid_before.isdigit() and pid_before != "0", pid_before
    assert _apply(down)["rc"] == 0
    assert ssh(h, "systemctl show -p MainPID --value docker").stdout.strip() == pid_before
    # ... and a daemon.json change restarts docker through the handler
    changed = write_inventory(tmp_path / "inv4.yml", hosts, extra={
        "docker_version": "25.0.5", "docker_daemon_config": {"log-driver": "json-file"}})
    assert _apply(changed)["rc"] == 2
    pid_after = ssh(h, "systemctl show -p MainPID --value docker").stdout.strip()
    assert pid_after.isdigit() and pid_after not in ("0", pid_before), (pid_before, pid_after)
    assert ssh(h, "docker info --format '{{.LoggingDriver}}'").stdout.strip() == "json-file"


def test_channels_stay_off_and_key_fingerprint_is_enforced(lab, tmp_path: Path) -> None:
    hosts = lab.up(1, "el9", "dockerkey")
    (h,) = hosts
    inv = write_inventory(tmp_path / "inv.yml", hosts)
    _apply(inv)
    # test/nightly carry 27.x: with the channels off, the newest stable (26.1.4) is what got installed
    assert ssh(h, "rpm -q --qf '%{VERSION}' docker-ce").stdout == "26.1.4"
    repo = ssh(h, "cat /etc/yum.repos.d/docker-ce.repo").stdout
    assert "[docker-ce-test]" in repo and "[docker-ce-nightly]" in repo
    # Ansible's rpm_key checks the fingerprint of a key it imports (one already in the RPM database is left as
    # it is): the key goes, so the next apply imports it and meets the wrong fingerprint
    keys = ssh(h, "rpm -q gpg-pubkey --qf '%{NAME}-%{VERSION}\\n' | grep -i -- -a221e745").stdout.split()
    assert keys and ssh(h, "rpm -e " + " ".join(keys)).returncode == 0, keys
    wrong = write_inventory(tmp_path / "wrong.yml", hosts,
                            extra={"docker_gpg_fingerprint": "0000 0000 0000 0000 0000 0000 0000 0000 0000 0000"})
    proc = hostprep("apply", "-i", str(wrong), str(ROOT / "site.yml"), "--json", cwd=ROOT)
    assert proc.returncode == 1
    msgs = [f["result"].get("msg", "") for f in failures(proc)]
    assert any("does not match" in m for m in msgs), msgs
