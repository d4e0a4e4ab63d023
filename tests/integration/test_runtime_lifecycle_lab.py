"""Restart policies and named volumes through roles/runtime on an EL9 and an EL7 lab host, across a real
reboot: a declared `restart: always` container with a named volume comes back after the reboot as the same
container (its own upper layer kept: `system boot` started it, the boot record did not make it again), its
volume's data intact; a re-run changes nothing; declared absent, it and (with `volume rm`) its volume leave
nothing behind.

The reboot is shared with the other reboot tests of this flavour (RebootGroup in labutil.py): reboot_prepare
is this test's part before it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.labutil import RebootGroup, failures, hostprep, ssh, write_inventory

ROOT = Path(__file__).resolve().parents[2]
RT = "HOSTPREP_RUNTIME_ROOT=/var/lib/hostprep-runtime /usr/local/bin/hostprep-runtime"
IMAGES = [{"name": "lc-tools", "paths": ["/bin/sh", "/bin/cat", "/bin/sleep", "/bin/date", "/bin/wc"]}]
COUNTER = {"name": "counter", "image": "lc-tools", "restart": "always", "volumes": ["counterdata:/data"],
           "tmpfs": ["/scratch:size=1m"], "log_opt": ["max-size=1m", "max-file=2"],
           "command": ["/bin/sh", "-c", "date >> /data/boots; echo started; exec /bin/sleep 2147483647"]}


REBOOT_TEST = "test_always_container_and_volume_survive_a_reboot"
REBOOT_OWNS = {"containers": {"counter"}, "volumes": {"counterdata"}}


@pytest.fixture(scope="module", params=["el9", "el7"])
def group(request: pytest.FixtureRequest, reboot_group) -> RebootGroup:
    """The lab host this flavour's reboot tests share (tests/integration/conftest.py): prepared, rebooted once."""
    return reboot_group(request.param)


def apply(host, tmp: Path, containers: list, pinned: dict | None = None) -> int:
    inv = write_inventory(tmp / "inv.yml", [host], extra={"runtime_images": IMAGES, "runtime_containers": containers,
                                                         "runtime_verify": False, **(pinned or {})})
    proc = hostprep("apply", "-i", str(inv), str(ROOT / "site.yml"), "--json", "--detailed-exitcode", cwd=ROOT)
    assert proc.returncode in (0, 2) and not failures(proc), (failures(proc), proc.stderr[-2000:])
    return proc.returncode


def containers(host) -> dict[str, dict]:
    res = ssh(host, f"{RT} ps -a --format json")
    assert res.returncode == 0, res.stderr
    return {s["name"]: s for s in json.loads(res.stdout)}


def reboot_prepare(group: RebootGroup, tmp: Path) -> dict:
    """Before the shared reboot: the container runs, with data in its volume and in its own upper layer."""
    host = group.host
    apply(host, tmp, [COUNTER], group.pinned)
    group.pin()
    before = containers(host)["counter"]
    assert before["status"] == "running" and before["config"]["restart"] == "always"
    assert ssh(host, f"{RT} exec counter sh -c 'echo precious > /data/keep; echo mine > /upper-file'").returncode == 0
    assert ssh(host, f"{RT} exec counter cat /data/boots").stdout.count("\n") == 1
    return before


@pytest.mark.timeout(1800)  # may prepare the whole reboot group (all three modules' parts) and reboot it
def test_always_container_and_volume_survive_a_reboot(group: RebootGroup) -> None:
    host, tmp_path = group.host, group.tmp / "test_runtime_lifecycle_lab"
    before = group.before("test_runtime_lifecycle_lab")  # its part before the shared reboot (reboot_prepare)
    assert ssh(host, "systemctl is-active hostprep-runtime.service").stdout.strip() == "active"
    after = containers(host)["counter"]
    assert after["status"] == "running" and after["id"] == before["id"], (before["id"], after)
    res = ssh(host, f"{RT} exec counter sh -c 'cat /data/keep /upper-file; cat /data/boots | wc -l'")
    assert res.stdout.split() == ["precious", "mine", "2"], (res.stdout, res.stderr)
    assert ssh(host, f"{RT} logs counter").stdout == "started\nstarted\n"
    assert apply(host, tmp_path, [COUNTER], group.pinned) == 0  # nothing to change
    # absent: the container goes, its named volume stays until removed; then nothing is left (but what the
    # other tests sharing this host made: their containers, their volumes)
    apply(host, tmp_path, [{"name": "counter", "state": "absent"}], group.pinned)
    others, other_ids, other_volumes = group.left_by_others("test_runtime_lifecycle_lab")
    assert sorted(containers(host)) == others
    assert ssh(host, f"{RT} volume ls -q").stdout.split() == sorted(["counterdata", *other_volumes])
    assert ssh(host, f"{RT} volume rm counterdata").returncode == 0
    left = ssh(host, f"ls /var/lib/hostprep-runtime/volumes /var/lib/hostprep-runtime/containers; grep -c "
                     f"{before['id']} /proc/self/mountinfo; ls -d /sys/fs/cgroup/*/hostprep-runtime/{before['id']} "
                     "/sys/fs/cgroup/hostprep-runtime/" + before["id"] + " 2>/dev/null | wc -l")
    assert left.stdout.split() == ["/var/lib/hostprep-runtime/containers:", *other_ids,
                                   "/var/lib/hostprep-runtime/volumes:", *other_volumes, "0", "0"], left.stdout
