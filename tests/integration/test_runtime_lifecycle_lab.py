"""Restart policies and named volumes through roles/runtime on an EL9 and an EL7 lab host, across a real
reboot: a declared `restart: always` container with a named volume comes back after the reboot as the same
container (its own upper layer kept: `system boot` started it, the boot record did not make it again), its
volume's data intact; a re-run changes nothing; declared absent, it and (with `volume rm`) its volume leave
nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.labutil import failures, hostprep, ssh, write_inventory

ROOT = Path(__file__).resolve().parents[2]
RT = "HOSTPREP_RUNTIME_ROOT=/var/lib/hostprep-runtime /usr/local/bin/hostprep-runtime"
IMAGES = [{"name": "lc-tools", "paths": ["/bin/sh", "/bin/cat", "/bin/sleep", "/bin/date", "/bin/wc"]}]
COUNTER = {"name": "counter", "image": "lc-tools", "restart": "always", "volumes": ["counterdata:/data"],
           "tmpfs": ["/scratch:size=1m"], "log_opt": ["max-size=1m", "max-file=2"],
           "command": ["/bin/sh", "-c", "date >> /data/boots; echo started; exec /bin/sleep 2147483647"]}


@pytest.fixture(scope="module", params=["el9", "el7"])
def host(request: pytest.FixtureRequest, lab):
    (h,) = lab.up(1, request.param, f"hslc{request.param[-1]}")
    return h


def apply(host, tmp: Path, containers: list) -> int:
    inv = write_inventory(tmp / "inv.yml", [host], extra={"runtime_images": IMAGES, "runtime_containers": containers,
                                                         "runtime_verify": False})
    proc = hostprep("apply", "-i", str(inv), str(ROOT / "site.yml"), "--json", "--detailed-exitcode", cwd=ROOT)
    assert proc.returncode in (0, 2) and not failures(proc), (failures(proc), proc.stderr[-2000:])
    return proc.returncode


def containers(host) -> dict[str, dict]:
    res = ssh(host, f"{RT} ps -a --format json")
    assert res.returncode == 0, res.stderr
    return {s["name"]: s for s in json.loads(res.stdout)}


def test_always_container_and_volume_survive_a_reboot(host, tmp_path: Path) -> None:
    apply(host, tmp_path, [COUNTER])
    before = containers(host)["counter"]
    assert before["status"] == "running" and before["config"]["restart"] == "always"
    assert ssh(host, f"{RT} exec counter sh -c 'echo precious > /data/keep; echo mine > /upper-file'").returncode == 0
    assert ssh(host, f"{RT} exec counter cat /data/boots").stdout.count("\n") == 1
    book = tmp_path / "reboot.yml"
    book.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n    - reboot:\n        reboot_timeout: 180\n"
                    "        test_command: systemctl is-system-running --wait\n")
    inv = write_inventory(tmp_path / "inv-reboot.yml", [host])
    proc = hostprep("apply", "-i", str(inv), str(book), "--json", cwd=ROOT)
    assert proc.returncode == 0 and not failures(proc), (failures(proc), proc.stderr[-2000:])
    assert ssh(host, "systemctl is-active hostprep-runtime.service").stdout.strip() == "active"
    after = containers(host)["counter"]
    assert after["status"] == "running" and after["id"] == before["id"], (before["id"], after)
    res = ssh(host, f"{RT} exec counter sh -c 'cat /data/keep /upper-file; cat /data/boots | wc -l'")
    assert res.stdout.split() == ["precious", "mine", "2"], (res.stdout, res.stderr)
    assert ssh(host, f"{RT} logs counter").stdout == "started\nstarted\n"
    assert apply(host, tmp_path, [COUNTER]) == 0  # nothing to change
    # absent: the container goes, its named volume stays until removed; then nothing is left
    apply(host, tmp_path, [{"name": "counter", "state": "absent"}])
    assert "counter" not in containers(host)
    assert ssh(host, f"{RT} volume ls -q").stdout.split() == ["counterdata"]
    assert ssh(host, f"{RT} volume rm counterdata").returncode == 0
    left = ssh(host, f"ls /var/lib/hostprep-runtime/volumes /var/lib/hostprep-runtime/containers; grep -c "
                     f"{before['id']} /proc/self/mountinfo; ls -d /sys/fs/cgroup/*/hostprep-runtime/{before['id']} "
                     "/sys/fs/cgroup/hostprep-runtime/" + before["id"] + " 2>/dev/null | wc -l")
    assert left.stdout.split() == ["/var/lib/hostprep-runtime/containers:", "/var/lib/hostprep-runtime/volumes:",
                                   "0", "0"], left.stdout
