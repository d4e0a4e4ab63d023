"""Escape through device nodes: a container (root, with CAP_MKNOD as in Docker) makes a node of the host's
disk and opens it. Only the standard nodes may be opened: through the v1 devices cgroup where it exists, and
on a pure cgroup v2 host through `nodev` on every mount the container can write."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path


def _host_block_device() -> tuple[int, int]:
    """Major and minor of a block device the host can open: its first disk, else a loop device (a sandbox
    running these tests may keep its own disk from root)."""
    names = [line.split()[3] for line in Path("/proc/partitions").read_text().splitlines()[2:] if line.strip()]
    for name in [n for n in names if not n.startswith(("ram", "zram"))] + ["loop0"]:
        try:
            os.close(os.open(f"/dev/{name}", os.O_RDONLY | os.O_NONBLOCK))
        except OSError:
            continue
        st = os.stat(f"/dev/{name}")
        return os.major(st.st_rdev), os.minor(st.st_rdev)
    raise RuntimeError("no block device the host can open to try the attack with (/proc/partitions, /dev/loop0)")


def _attack(where: str) -> str:
    major, minor = _host_block_device()
    return (f"mknod {where}/disk b {major} {minor} && echo made; "
            f"(exec 3< {where}/disk) 2>/dev/null && echo opened || echo refused; "
            f"echo x > /dev/null && head -c 4 /dev/urandom | wc -c")


def test_the_attack_opens_the_device_on_the_host(tmp_path: Path) -> None:
    """The control: the same commands on the host open the disk (so the tests below can fail)."""
    res = subprocess.run(["sh", "-c", _attack(str(tmp_path))], capture_output=True, text=True)
    assert res.stdout.split() == ["made", "opened", "4"], res.stdout + res.stderr


def test_a_device_node_made_in_the_container_cannot_be_opened(rt, tmp_path: Path) -> None:
    volume = tmp_path / "vol"
    volume.mkdir()
    for where in ("/tmp", "/dev", "/dev/shm", "/vol"):
        res = rt("run", "--rm", "-v", f"{volume}:/vol", "bb", "sh", "-c", _attack(where))
        # made (CAP_MKNOD, as in Docker), never read; the standard nodes work
        assert res.stdout.split() == ["made", "refused", "4"], (where, res.stdout, res.stderr)


def test_nodev_alone_stops_it_without_a_devices_cgroup(rt) -> None:
    """A pure cgroup v2 host has no devices controller (runc would need a BPF program): the runtime is pointed
    at the v2 hierarchy (the unified one of this hybrid machine, or /sys/fs/cgroup on a v2 machine)."""
    v2 = next((p for p in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup") if os.path.exists(p + "/cgroup.controllers")),
              None)
    assert v2 is not None, "no cgroup v2 hierarchy on this machine"
    env = dict(rt.env, HOSTPREP_RUNTIME_CGROUP_ROOT=v2)
    res = subprocess.run([rt.python, "-m", "hostprep.runtime", "run", "--rm", "bb", "sh", "-c", _attack("/tmp")],
                         capture_output=True, text=True, env=env, timeout=60)
    assert res.stdout.split() == ["made", "refused", "4"], (res.stdout, res.stderr)


def test_the_v1_devices_cgroup_allows_only_the_standard_nodes(rt) -> None:
    """Where the v1 devices controller exists (this hybrid machine), the container's cgroup in it has
    Docker's rules: mknod of any node, read and write of the standard ones only. On a pure cgroup v2 host
    (test_cgroup_v2_vm.py runs the suite on one) there is no devices controller: the container has its unified
    cgroup only, and nodev on every mount it can write is what refuses a node (the two tests above)."""
    devices = Path("/sys/fs/cgroup/devices")
    pure_v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
    assert pure_v2 or (devices / "devices.list").exists(), "no v1 devices controller on this machine"
    name = f"dev{os.getpid()}"
    assert rt("run", "-d", "--name", name, "bb", "sleep", "30").returncode == 0
    try:
        state = json.loads(rt("inspect", name).stdout)
        if pure_v2:
            assert state["cgroup"] == {"unified": f"/sys/fs/cgroup/hostprep-runtime/{state['id']}"}, state["cgroup"]
            own = Path(f"/proc/{state['pid1']}/cgroup").read_text()
            assert own == f"0::/hostprep-runtime/{state['id']}\n", own
            return
        rules = set(Path(state["cgroup"]["devices"], "devices.list").read_text().split("\n")) - {""}
        assert rules == {"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
                         "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"}, rules
        assert f"devices:/hostprep-runtime/{state['id']}" in Path(f"/proc/{state['pid1']}/cgroup").read_text()
    finally:
        rt("rm", "-f", name)
