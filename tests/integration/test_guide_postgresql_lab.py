"""Issue 14 §4, the guide's example served: the PostgreSQL image of examples/postgresql (built on the control node
on the lab's centos:7, saved as an OCI layout tar) declared through roles/runtime on an EL9 and an EL7 lab host as
`run -d -p 5432:5432 -v pgdata:/var/lib/pgsql/data --restart always`; psql on the control node connects through
the published port; the host reboots and the database comes back with its data; the container declared absent
and `volume rm` leave no container, volume, mount, cgroup or published-port rule behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hostprep.lab import baseimage, network, paths
from hostprep.lab.repo import ensure_served
from tests.integration.labutil import failures, hostprep, ssh, write_inventory
from tests.runtime.build_peer import runtime_env

ROOT = Path(__file__).resolve().parents[2]
RT = "HOSTPREP_RUNTIME_ROOT=/var/lib/hostprep-runtime /usr/local/bin/hostprep-runtime"
PASSWORD = "guide-s3cret"
PG = {"name": "pg", "image": "postgresql:guide", "ports": ["5432:5432"], "volumes": ["pgdata:/var/lib/pgsql/data"],
      "restart": "always", "env": {"POSTGRES_PASSWORD": PASSWORD}}


@pytest.fixture(scope="module")
def pg_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("guide-pg-image")
    env = runtime_env(base / "state")

    def rt(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hostprep.runtime", *args], capture_output=True, text=True,
                              env=env, timeout=900)

    network.ensure_bridge()
    ensure_served(paths.BRIDGE_ADDRESS, paths.REPO_PORT)
    res = rt("import", "--cmd", "/bin/bash", str(baseimage.layer_tar("el7")), "centos:7")
    assert res.returncode == 0, res.stderr
    res = rt("build", "--network", "host", "-t", "postgresql:guide", str(ROOT / "examples" / "postgresql"))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    tar = base / "postgresql-guide.tar"
    res = rt("save", "-o", str(tar), "postgresql:guide")
    assert res.returncode == 0, res.stderr
    return tar


# EL7: the host's Python 3.6 under the lab's C locale has an ASCII file system encoding, and `import` of this image
# stops at its first non-ASCII file name ("'ascii' codec can't encode character", exit 125) -- an importer bug
# to fix, not this example's; strict, so the fix makes this case fail until the mark goes


@pytest.fixture(scope="module", params=["el9", "el7"])
def host(request: pytest.FixtureRequest, lab):
    (h,) = lab.up(1, request.param, f"hspg{request.param[-1]}")
    return h


def apply(host, tmp: Path, tar: Path, containers: list) -> int:
    """roles/runtime alone (site.yml's Docker CE role adds minutes and nothing to this example)."""
    inv = write_inventory(tmp / "inv.yml", [host], extra={
        "runtime_images": [{"name": "postgresql:guide", "src": str(tar)}], "runtime_containers": containers,
        "runtime_verify": False})
    book = tmp / "runtime.yml"
    book.write_text(f"- hosts: all\n  become: true\n  roles:\n    - role: {ROOT / 'roles' / 'runtime'}\n")
    proc = hostprep("apply", "-i", str(inv), str(book), "--json", "--detailed-exitcode", cwd=ROOT)
    bad = [(f["task"], f["result"].get("msg"), f["result"].get("stderr")) for f in failures(proc)]
    assert proc.returncode in (0, 2) and not bad, (bad, proc.stderr[-2000:])
    return proc.returncode


def psql(host, sql: str, timeout: float = 90) -> str:
    """psql on the control node, through the lab host's published port 5432 (retried while it starts)."""
    env = dict(os.environ, PGPASSWORD=PASSWORD, PGCONNECT_TIMEOUT="3")
    deadline = time.monotonic() + timeout
    while True:
        res = subprocess.run(["psql", "-h", host.address, "-p", "5432", "-U", "postgres", "-v", "ON_ERROR_STOP=1",
                              "-Atc", sql], capture_output=True, text=True, env=env, timeout=30)
        if res.returncode == 0:
            return res.stdout.strip()
        assert time.monotonic() < deadline, res.stderr + ssh(host, f"{RT} logs --tail 20 pg").stdout
        time.sleep(0.5)


@pytest.mark.timeout(1800)  # a 475 MB image uploaded and imported, a reboot: past 900 s at load 30
def test_guide_postgresql_served_survives_reboot_and_leaves_nothing(host, pg_tar: Path, tmp_path: Path) -> None:
    apply(host, tmp_path, pg_tar, [PG])
    assert psql(host, "create table guide(n int); insert into guide select generate_series(1, 100); "
                      "select sum(n) from guide").splitlines()[-1] == "5050"
    state = json.loads(ssh(host, f"{RT} inspect pg").stdout)
    assert {m["Destination"]: m.get("Name") for m in state["mounts"]}["/var/lib/pgsql/data"] == "pgdata"
    book = tmp_path / "reboot.yml"
    book.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n    - reboot:\n        reboot_timeout: 180\n"
                    "        test_command: systemctl is-system-running --wait\n")
    proc = hostprep("apply", "-i", str(write_inventory(tmp_path / "inv-reboot.yml", [host])), str(book), "--json",
                    cwd=ROOT)
    assert proc.returncode == 0 and not failures(proc), (failures(proc), proc.stderr[-2000:])
    assert psql(host, "select sum(n) from guide") == "5050"  # the data came back with the database
    after = json.loads(ssh(host, f"{RT} inspect pg").stdout)
    assert after["id"] == state["id"] and after["status"] == "running"
    assert apply(host, tmp_path, pg_tar, [PG]) == 0
    # rm and volume rm leave nothing behind
    apply(host, tmp_path, pg_tar, [{"name": "pg", "state": "absent"}])
    assert ssh(host, f"{RT} volume rm pgdata").returncode == 0
    res = ssh(host, f"{RT} volume prune -f >/dev/null; {RT} volume ls -q; {RT} ps -a --format json; "
                    f"ls /var/lib/hostprep-runtime/containers /var/lib/hostprep-runtime/volumes; "
                    f"grep -c {state['id']} /proc/self/mountinfo; "
                    f"ls -d /sys/fs/cgroup/*/hostprep-runtime/{state['id']} 2>/dev/null | wc -l; "
                    "{ iptables-save 2>/dev/null; nft list ruleset 2>/dev/null; } | grep -c 'dport 5432'")
    assert res.stdout.split() == ["[]", "/var/lib/hostprep-runtime/containers:", "/var/lib/hostprep-runtime/volumes:",
                                  "0", "0", "0"], res.stdout
