"""The `rt` fixture: the runtime CLI on a fresh state root with a busybox image `bb`, under the control node's
Python, 3.9 (EL9) and 3.6 (EL7/EL8 system Python)."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.runtime.support import PYTHONS, ROOT, busybox_rootfs_tar, python_for

# the suite inside the emulated cgroup v2 VM (test_cgroup_v2_vm.py) runs many times slower than here: its CLI
# calls get this many times their bound (the bounds only catch hangs)
TIMEOUT_SCALE = float(os.environ.get("HOSTPREP_RUNTIME_TEST_TIMEOUT_SCALE", "1"))


@pytest.fixture(scope="module", params=PYTHONS)
def rt(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The runtime CLI; every container test runs under each interpreter of PYTHONS (a missing one fails)."""
    default_python = python_for(request.param)
    if os.geteuid() != 0:
        raise RuntimeError("runtime tests need root")
    base = tmp_path_factory.mktemp("rt")
    tar = busybox_rootfs_tar(base)
    state = base / "state"
    env = dict(os.environ, HOSTPREP_RUNTIME_ROOT=str(state), PYTHONPATH=str(ROOT))

    def call(*args: str, python: str = default_python, timeout: int = 60,
             stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([python, "-m", "hostprep.runtime", *args], capture_output=True, text=True, env=env,
                              timeout=timeout * TIMEOUT_SCALE, input=stdin)

    def with_input(data: str, *args: str) -> subprocess.CompletedProcess:
        return call(*args, stdin=data)

    res = call("import", str(tar), "bb")
    assert res.returncode == 0, res.stderr
    call.state = state  # type: ignore[attr-defined]
    call.base = base  # type: ignore[attr-defined]
    call.python = default_python  # type: ignore[attr-defined]
    call.env = env  # type: ignore[attr-defined]
    call.input = with_input  # type: ignore[attr-defined]
    yield call
    from hostprep.runtime import network

    left = end_containers(call, state)
    for net in network.list_networks(str(state)):  # bridges and packet rules of its networks outlive the root
        network.teardown(net)
    assert not left, f"the runtime left behind (removed now, by id): {left}"


def end_containers(call, state) -> list[str]:
    """Every container a module's tests left is removed by the runtime (`rm -f`: its processes, cgroups, ports
    and links go). What remains after that is a leak the runtime must not have: a container directory without
    a record (unseen by ps and rm) or a cgroup of one of the module's containers. It is removed by its id here
    and returned, so that the module fails loudly instead of the machine filling up (a CI run had left 18)."""
    from hostprep.runtime.cgroups import Cgroup
    from hostprep.runtime.state import rmtree

    containers = state / "containers"
    ids = sorted(os.listdir(containers)) if containers.is_dir() else []
    left = []
    for cid in ids:
        if (containers / cid / "state.json").exists():
            res = call("rm", "-f", cid)
            if res.returncode != 0:
                left.append(f"container {cid} (rm -f: {res.stderr.strip()})")
        if (containers / cid).exists():
            left.append(f"directory of container {cid}")
            rmtree(str(containers / cid))
        cgroup = Cgroup(cid)
        for path in cgroup.paths.values():
            if os.path.isdir(path):
                left.append(f"cgroup {path}")
        cgroup.remove()
    return left
