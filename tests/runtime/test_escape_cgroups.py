"""Escape through the host's cgroup tree with --network host: the container must find no writable cgroup
hierarchy (nor any writable /sys) and stay in its own cgroups, in every network mode."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# try to leave the container's cgroups: write our pid into every cgroup.procs and tasks file there is, then
# report where we are and whether anything under /sys can be written or mounted
ATTACK = ("for f in $(find /sys/fs /sys/kernel -name cgroup.procs -o -name tasks 2>/dev/null); do "
          "echo $$ > $f 2>/dev/null && echo moved $f; done; "
          "touch /sys/x 2>/dev/null && echo wrote-sys; "
          "mkdir /sys/fs/cgroup/x 2>/dev/null && echo made-cgroup; "
          "mount -t cgroup2 none /mnt 2>/dev/null && echo mounted; "
          "grep -E ' /sys' /proc/mounts | grep -v ' ro,' ; "
          "echo done; sleep 30")


@pytest.mark.parametrize("network", ["host", "none"])
def test_container_cannot_leave_its_cgroups(rt, network: str) -> None:
    name = f"cg{network}{os.getpid()}"
    started = rt("run", "-d", "--name", name, "--network", network, "--pids-limit", "50", "bb", "sh", "-c", ATTACK)
    assert started.returncode == 0, started.stderr
    try:
        state = json.loads(rt("inspect", name).stdout)
        log = ""
        for _ in range(200):
            log = rt("logs", name).stdout
            if "done" in log:
                break
        assert log.split() == ["done"], log
        own = Path(f"/proc/{state['pid1']}/cgroup").read_text()
        for ctrl, path in state["cgroup"].items():
            rel = "/" + path.split("/sys/fs/cgroup/", 1)[1].split("/", 1)[1]
            line = [x for x in own.splitlines() if x.split(":")[1] == ("" if ctrl == "unified" else ctrl)]
            assert line and line[0].endswith(":" + rel), (ctrl, own)
    finally:
        rt("rm", "-f", name)
