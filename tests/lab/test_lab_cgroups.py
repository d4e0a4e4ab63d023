"""hostprep/lab/cgroups.py on this machine's real hierarchies: `remove` leaves nothing even when a process is
still in the host's cgroup when it is called (under load, killed processes of a host going down were not yet
reaped when the cgroups were removed, and a 50-host bench left one host's cgroups behind)."""

from __future__ import annotations

import os
import subprocess
import uuid

from hostprep.lab import cgroups


def test_remove_kills_what_is_still_inside_and_leaves_no_cgroup() -> None:
    if os.geteuid() != 0:
        raise RuntimeError("needs root (cgroups)")
    name = f"hp-cgtest-{uuid.uuid4().hex[:8]}"
    made = cgroups.create(name)
    assert made and all(p.is_dir() for p in made)
    proc = subprocess.Popen(["sleep", "600"])
    try:
        cgroups.join(name, proc.pid)
        assert proc.pid in cgroups._pids_below(made[0]) or any(proc.pid in cgroups._pids_below(p) for p in made)
        # a sub-cgroup, as software inside a host makes
        (made[0] / "inner").mkdir()
        left = cgroups.remove(name, patience=10.0)
        assert left == [], left
        assert not any(p.exists() for p in cgroups.host_cgroups(name))
        assert proc.wait(timeout=10) == -9  # killed, by its cgroup
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for p in cgroups.host_cgroups(name):
            for sub in sorted(p.rglob("*"), key=lambda q: len(q.parts), reverse=True):
                if sub.is_dir():
                    sub.rmdir()
            if p.exists():
                p.rmdir()
