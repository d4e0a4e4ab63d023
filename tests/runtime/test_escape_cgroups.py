"""Escape through the host's cgroup tree with --network host: the container must find no writable cgroup
hierarchy (nor any writable /sys) and stay in its own cgroups, in every network mode."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.runtime.support import runtime_argv

# try to leave the container's cgroups: write our pid into every cgroup.procs and tasks file there is, then
# report where we are and whether anything under /sys can be written or mounted
ATTACK = ("for f in $(find /sys/fs /sys/kernel -name cgroup.procs -o -name tasks 2>/dev/null); do "
          "echo $$ > $f 2>/dev/null && echo moved $f; done; "
          "touch /sys/x 2>/dev/null && echo wrote-sys; "
          "mkdir /sys/fs/cgroup/x 2>/dev/null && echo made-cgroup; "
          "mount -t cgroup2 none /mnt 2>/dev/null && echo mounted; "
          "grep -E ' /sys' /proc/mounts | grep -v ' ro,' ; "
          "echo done; sleep 30")


def _v2_root() -> str:
    v2 = next((p for p in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup") if os.path.exists(p + "/cgroup.controllers")),
              None)
    assert v2 is not None, "no cgroup v2 hierarchy on this machine"
    return v2


@pytest.mark.parametrize("network,hierarchy", [("host", "default"), ("none", "default"), ("host", "v2")])
def test_container_cannot_leave_its_cgroups(rt, network: str, hierarchy: str) -> None:
    """`default`: what this machine's runtime uses (v1 controllers on a hybrid machine); `v2`: the runtime
    pointed at the v2 hierarchy (the unified one of a hybrid machine), as on a pure v2 host."""
    env = rt.env if hierarchy == "default" else dict(rt.env, HOSTPREP_RUNTIME_CGROUP_ROOT=_v2_root())

    def call(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(runtime_argv(rt, *args), capture_output=True, text=True, env=env, timeout=60)

    name = f"cg{network}{hierarchy}{os.getpid()}"
    limit = ["--pids-limit", "50"] if hierarchy == "default" else []  # a hybrid's v2 hierarchy has no controllers
    started = call("run", "-d", "--name", name, "--network", network, *limit, "bb", "sh", "-c", ATTACK)
    assert started.returncode == 0, started.stderr
    try:
        state = json.loads(call("inspect", name).stdout)
        assert state["cgroup"], "no cgroup was made"
        log = ""
        for _ in range(200):
            log = call("logs", name).stdout
            if "done" in log:
                break
        assert log.split() == ["done"], log
        own = Path(f"/proc/{state['pid1']}/cgroup").read_text()
        for ctrl, path in state["cgroup"].items():  # each hierarchy's line of PID 1 names the container's cgroup
            rel = f"/hostprep-runtime/{state['id']}"
            assert path.endswith(rel), path
            # "ID:CONTROLLERS:PATH"; v2's line has no controller names, v1 may join several (cpu,cpuacct)
            line = [x for x in own.splitlines()
                    if (x.split(":")[1] == "" if ctrl == "unified" else ctrl in x.split(":")[1].split(","))]
            assert line and line[0].endswith(":" + rel), (ctrl, own)
    finally:
        call("rm", "-f", name)
