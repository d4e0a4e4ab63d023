"""Issue 14 §4, the guide's example served: the PostgreSQL image of examples/postgresql (built on the control node
on the lab's centos:7, saved as an OCI layout tar, cached by its recipe's hash) declared through roles/runtime on
an EL9 and an EL7 lab host as `run -d -p 5432:5432 -v pgdata:/var/lib/pgsql/data --restart always`; psql on the
control node connects through the published port; the host reboots and the database comes back with its data;
the container declared absent and `volume rm` leave no container, volume, mount, cgroup or published-port rule
behind.

The reboot is shared with the other reboot tests of this flavour (RebootGroup in labutil.py): reboot_prepare
is this test's part before it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hostprep.lab import baseimage, network, paths
from hostprep.lab.repo import ensure_served, repo_dir
from tests.integration.labutil import RebootGroup, failures, hostprep, ssh, write_inventory
from tests.runtime.build_peer import runtime_env

ROOT = Path(__file__).resolve().parents[2]
RT = "HOSTPREP_RUNTIME_ROOT=/var/lib/hostprep-runtime /usr/local/bin/hostprep-runtime"
PASSWORD = "guide-s3cret"
PG = {"name": "pg", "image": "postgresql:guide", "ports": ["5432:5432"], "volumes": ["pgdata:/var/lib/pgsql/data"],
      "restart": "always", "env": {"POSTGRES_PASSWORD": PASSWORD}}


_TARS: dict[str, Path] = {}
CACHE = Path("/var/cache/hostprep/guide-postgresql")


def _recipe_key(layer: Path) -> str:
    """What the image is made of: the base layer (its directory is named by the image recipe's hash), the lab
    repository its yum installs from (named by its recipe's hash), examples/postgresql and the runtime's sources."""
    digest = hashlib.sha256(f"{layer.parent.name}\0{repo_dir().name}\0".encode())
    for path in sorted([*(ROOT / "examples" / "postgresql").rglob("*"), *(ROOT / "hostprep" / "runtime").glob("*.py")]):
        if path.is_file():
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def pg_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The guide's image, built on the control node and saved as an OCI layout tar: once per recipe, cached under
    /var/cache/hostprep/guide-postgresql by its hash (the same recipe builds the same image)."""
    if "tar" in _TARS:
        return _TARS["tar"]
    network.ensure_bridge()
    ensure_served(paths.BRIDGE_ADDRESS, paths.REPO_PORT)
    layer = baseimage.layer_tar("el7")
    cached = CACHE / f"postgresql-guide-{_recipe_key(layer)}.tar"
    if not cached.is_file():
        base = tmp_path_factory.mktemp("guide-pg-image")
        env = runtime_env(base / "state")

        def rt(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "hostprep.runtime", *args], capture_output=True, text=True,
                                  env=env, timeout=900)

        res = rt("import", "--cmd", "/bin/bash", str(layer), "centos:7")
        assert res.returncode == 0, res.stderr
        res = rt("build", "--network", "host", "-t", "postgresql:guide", str(ROOT / "examples" / "postgresql"))
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = CACHE / f".{cached.name}.{os.getpid()}"
        res = rt("save", "-o", str(tmp), "postgresql:guide")
        assert res.returncode == 0, res.stderr
        for old in CACHE.glob("postgresql-guide-*.tar"):  # one recipe's tar kept: the current one
            old.unlink()
        tmp.replace(cached)
        shutil.rmtree(base / "state", ignore_errors=True)
    _TARS["tar"] = cached
    return cached


# EL7: the host's Python 3.6 under the lab's C locale has an ASCII file system encoding, and `import` of this image
# stops at its first non-ASCII file name ("'ascii' codec can't encode character", exit 125) -- an importer bug
# to fix, not this example's; strict, so the fix makes this case fail until the mark goes


REBOOT_TEST = "test_guide_postgresql_served_survives_reboot_and_leaves_nothing"
REBOOT_OWNS = {"containers": {"pg"}, "volumes": {"pgdata"}}


@pytest.fixture(scope="module", params=["el9", "el7"])
def group(request: pytest.FixtureRequest, reboot_group) -> RebootGroup:
    """The lab host this flavour's reboot tests share (tests/integration/conftest.py): prepared, rebooted once."""
    return reboot_group(request.param)


def apply(host, tmp: Path, tar: Path, containers: list, pinned: dict | None = None) -> int:
    """roles/runtime alone (site.yml's Docker CE role adds minutes and nothing to this example)."""
    inv = write_inventory(tmp / "inv.yml", [host], extra={
        "runtime_images": [{"name": "postgresql:guide", "src": str(tar)}], "runtime_containers": containers,
        "runtime_verify": False, **(pinned or {})})
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


def reboot_prepare(group: RebootGroup, tmp: Path) -> dict:
    """Before the shared reboot: the database serves through the published port, with its data in pgdata."""
    host = group.host
    tar = pg_tar(group.tmp_path_factory)
    apply(host, tmp, tar, [PG], group.pinned)
    group.pin()
    assert psql(host, "create table guide(n int); insert into guide select generate_series(1, 100); "
                      "select sum(n) from guide").splitlines()[-1] == "5050"
    state = json.loads(ssh(host, f"{RT} inspect pg").stdout)
    assert {m["Destination"]: m.get("Name") for m in state["mounts"]}["/var/lib/pgsql/data"] == "pgdata"
    return {"state": state, "tar": tar}


# a 475 MB image uploaded and imported, a reboot: past 900 s at load 30; it may prepare the whole reboot group
@pytest.mark.timeout(1800)
def test_guide_postgresql_served_survives_reboot_and_leaves_nothing(group: RebootGroup) -> None:
    host, tmp_path = group.host, group.tmp / "test_guide_postgresql_lab"
    before = group.before("test_guide_postgresql_lab")  # its part before the shared reboot (reboot_prepare)
    state, pg_tar = before["state"], before["tar"]
    assert psql(host, "select sum(n) from guide") == "5050"  # the data came back with the database
    after = json.loads(ssh(host, f"{RT} inspect pg").stdout)
    assert after["id"] == state["id"] and after["status"] == "running"
    assert apply(host, tmp_path, pg_tar, [PG], group.pinned) == 0
    # rm and volume rm leave nothing behind (but what the other tests sharing this host made)
    apply(host, tmp_path, pg_tar, [{"name": "pg", "state": "absent"}], group.pinned)
    assert ssh(host, f"{RT} volume rm pgdata").returncode == 0
    others, other_ids, other_volumes = group.left_by_others("test_guide_postgresql_lab")
    res = ssh(host, f"{RT} volume prune -f >/dev/null; {RT} volume ls -q; {RT} ps -a --format json; "
                    f"ls /var/lib/hostprep-runtime/containers /var/lib/hostprep-runtime/volumes; "
                    f"grep -c {state['id']} /proc/self/mountinfo; "
                    f"ls -d /sys/fs/cgroup/*/hostprep-runtime/{state['id']} 2>/dev/null | wc -l; "
                    "{ iptables-save 2>/dev/null; nft list ruleset 2>/dev/null; } | grep -c 'dport 5432'")
    lines = res.stdout.splitlines()
    listed = [s["name"] for s in json.loads(lines[len(other_volumes)])]
    assert lines[:len(other_volumes)] == other_volumes and sorted(listed) == others, res.stdout
    assert " ".join(lines[len(other_volumes) + 1:]).split() == [
        "/var/lib/hostprep-runtime/containers:", *other_ids, "/var/lib/hostprep-runtime/volumes:", *other_volumes,
        "0", "0", "0"], res.stdout
