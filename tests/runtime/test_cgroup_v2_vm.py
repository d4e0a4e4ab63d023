"""hostprep-runtime on a pure cgroup v2 kernel: limits, exec and cleanup checked against v2 paths.

This machine is hybrid (v1 controllers, a controller-less v2 beside them), so the rest of tests/runtime sees v1
paths. An EL9 lab VM (`--backend vm`: a kernel of its own; its systemd boots the unified hierarchy, checked
first) runs the shipped zipapp under the host's own Python. Software emulation makes it slow: 4 to 7 minutes
on a loaded 2-core machine (boot, then 5-10 s per CLI call), so it has a marker of its own, `cgroup_v2_vm`, left
out of the default run (see README.md):

    .venv/bin/python -m pytest -m cgroup_v2_vm tests/runtime/test_cgroup_v2_vm.py

Not the whole runtime suite (that needs pytest and the hosts' three Pythons inside the VM): the checks here are
the ones whose paths differ on v2 -- memory/cpu/pids limits in the container's own cgroup, PID 1 and exec in it
(its cgroup namespace root), the OOM kill seen, the pids limit at work, and every cgroup removed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostprep.lab import paths
from hostprep.lab import vm as vmmod
from hostprep.lab.api import LabHost, down, up
from tests.runtime.support import ROOT, busybox_rootfs_tar

pytestmark = pytest.mark.cgroup_v2_vm

NAME = f"cg2v{os.getpid() % 100000}"
RT = "HOSTPREP_RUNTIME_ROOT=/var/lib/hostprep-runtime /usr/local/bin/hostprep-runtime"
PARENT = "/sys/fs/cgroup/hostprep-runtime"


def _ssh(host: LabHost, cmd: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", "-i", str(paths.KEY), "-o", f"UserKnownHostsFile={paths.KNOWN_HOSTS}", "-o",
                           "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", f"root@{host.address}", cmd],
                          capture_output=True, text=True, timeout=timeout)


def _scp(host: LabHost, src: Path, dest: str) -> None:
    subprocess.run(["scp", "-q", "-i", str(paths.KEY), "-o", f"UserKnownHostsFile={paths.KNOWN_HOSTS}", "-o",
                    "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", str(src), f"root@{host.address}:{dest}"],
                   check=True, timeout=300)


@pytest.fixture(scope="module")
def vm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LabHost, callable]]:
    if os.geteuid() != 0:
        raise RuntimeError("the cgroup v2 VM test needs root")
    for tool in ("qemu-system-x86_64", "qemu-img", "mke2fs", "depmod"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is missing: run scripts/setup.sh (ci/apt/vm.txt)")
    base = tmp_path_factory.mktemp("cg2")
    pyz = base / "hostprep-runtime"
    res = subprocess.run([sys.executable, "-m", "hostprep.runtime.build", str(pyz)], capture_output=True, text=True,
                         cwd=ROOT)
    assert res.returncode == 0, res.stderr
    tar = busybox_rootfs_tar(base)
    vmmod.prepare("el9")
    try:
        (host,) = up(1, "el9", NAME, backend="vm")
        _scp(host, pyz, "/usr/local/bin/hostprep-runtime")
        _scp(host, tar, "/root/busybox.tar")

        def rt(args: str, timeout: int = 300) -> subprocess.CompletedProcess:
            return _ssh(host, f"{RT} {args}", timeout)

        prep = _ssh(host, "chmod 755 /usr/local/bin/hostprep-runtime && modprobe overlay; "
                          f"{RT} import /root/busybox.tar bb")
        assert prep.returncode == 0, prep.stderr
        yield host, rt
    finally:
        if (paths.HOSTS / NAME).exists():
            down(names=[NAME])


def _inspect(rt, name: str) -> dict:
    res = rt(f"inspect {name}")
    assert res.returncode == 0, res.stderr
    state = json.loads(res.stdout)
    return state[0] if isinstance(state, list) else state


def test_the_vm_boots_the_unified_hierarchy(vm) -> None:
    host, _ = vm
    res = _ssh(host, "stat -fc %T /sys/fs/cgroup; cat /sys/fs/cgroup/cgroup.controllers")
    fs, controllers = res.stdout.splitlines()[:2]
    assert fs == "cgroup2fs", res.stdout  # pure v2: no v1 hierarchy, no tmpfs of controllers
    assert {"memory", "cpu", "pids"} <= set(controllers.split()), controllers


def test_limits_pid1_and_exec_in_the_v2_cgroup_then_removed(vm) -> None:
    host, rt = vm
    started = rt("run -d --name lim -m 64m --cpus 0.5 --pids-limit 20 bb sleep 600")
    assert started.returncode == 0, started.stderr
    try:
        state = _inspect(rt, "lim")
        path = f"{PARENT}/{state['id']}"
        assert state["cgroup"] == {"unified": path}, state["cgroup"]
        knobs = _ssh(host, f"cat {path}/memory.max {path}/cpu.max {path}/pids.max {path}/memory.swap.max "
                           f"/proc/{state['pid1']}/cgroup").stdout.splitlines()
        assert knobs == [str(64 << 20), "50000 100000", "20", "0", f"0::/hostprep-runtime/{state['id']}"], knobs
        # exec joins the same cgroup: inside the container's cgroup namespace it is the root
        inside = rt("exec lim cat /proc/self/cgroup")
        assert inside.stdout == "0::/\n", (inside.stdout, inside.stderr)
        # and the kernel counts the exec'd process there: seen from the host while the exec runs (waited for,
        # each CLI start under emulation takes seconds)
        held = _ssh(host, f"({RT} exec lim sleep 120 >/dev/null 2>&1 &); i=0; "
                          f"while [ $(wc -l < {path}/cgroup.procs) -lt 2 ] && [ $i -lt 120 ]; do sleep 1; "
                          f"i=$((i+1)); done; cat {path}/cgroup.procs")
        assert len(held.stdout.split()) >= 2, held.stdout  # PID 1 and the exec'd sleep (and its joiner)
    finally:
        assert rt("rm -f lim").returncode == 0
    left = _ssh(host, f"test -e {path} && echo left; find {PARENT} -mindepth 1 -maxdepth 1 -type d")
    assert left.stdout.split() == [], left.stdout  # its cgroup, and no other, is gone


def test_pids_and_memory_limits_bite_and_rm_leaves_nothing(vm) -> None:
    host, rt = vm
    bomb = rt("run --rm --pids-limit 20 bb sh -c "
              "'(i=0; while [ $i -lt 60 ]; do sleep 30 >/dev/null 2>&1 & i=$((i+1)); done) 2>&1"
              " | grep -c \"can.t fork\"'")
    assert (bomb.returncode, bomb.stdout) == (0, "1\n"), (bomb.stdout, bomb.stderr)
    oom = rt("run --name oom -m 32m bb sh -c 'head -c 300000000 /dev/zero | tail > /dev/null; echo $?'")
    assert oom.stdout.strip() == "137" or oom.returncode == 137, (oom.returncode, oom.stdout, oom.stderr)
    assert _inspect(rt, "oom")["oom_killed"] is True
    assert rt("rm oom").returncode == 0
    left = _ssh(host, f"find {PARENT} -mindepth 1 -maxdepth 1 -type d; grep -c hostprep-runtime /proc/self/mountinfo")
    assert left.stdout.split() == ["0"], left.stdout
