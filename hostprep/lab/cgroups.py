"""A cgroup of its own for each lab host, in every hierarchy this machine mounts.

The host's supervisor, systemd-nspawn, the host's systemd and whatever runs inside (dockerd,
containers) all live below it, so `down` can kill every process of a host by its cgroup and
then remove the cgroups, leaving nothing behind — never a name-based kill.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from hostprep.lab import paths

ROOT = Path("/sys/fs/cgroup")


def hierarchies() -> list[Path]:
    """Mounted cgroup hierarchies (v1 controllers, name=systemd, and the v2 unified one)."""
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[2] in ("cgroup", "cgroup2") and parts[1].startswith(str(ROOT)):
            found.append(Path(parts[1]))
    return found


def host_cgroups(name: str) -> list[Path]:
    return [h / paths.CGROUP_PARENT / name for h in hierarchies()]


def _init_cpuset(path: Path) -> None:
    for knob in ("cpuset.cpus", "cpuset.mems"):
        own = path / knob
        if own.exists() and not own.read_text().strip():
            own.write_text((path.parent / knob).read_text().strip() or "0")


def create(name: str) -> list[Path]:
    """Create the host's cgroups (and their parents); returns them.

    Another process's `remove` of its last host removes the shared parent when it is empty; should that
    happen between making the parent and the host's own cgroup, the parent is made again."""
    made = []
    for cg in host_cgroups(name):
        for attempt in range(5):
            try:
                for level in (cg.parent, cg):
                    level.mkdir(exist_ok=True)
                    if "cpuset" in level.parts[3]:
                        _init_cpuset(level)
                break
            except FileNotFoundError:
                if attempt == 4:
                    raise
        made.append(cg)
    return made


def join(name: str, pid: int | None = None) -> None:
    """Move process `pid` (default: this one) into every one of the host's cgroups."""
    pid = pid or os.getpid()
    for cg in host_cgroups(name):
        procs = cg / "cgroup.procs"
        if procs.exists():
            try:
                procs.write_text(str(pid))
            except OSError:
                pass  # a v2 hierarchy beside v1 may refuse a domain move; v1 is what holds the processes


def _pids_below(cg: Path) -> set[int]:
    pids: set[int] = set()
    if not cg.exists():
        return pids
    for procs in cg.rglob("cgroup.procs"):
        try:
            pids.update(int(p) for p in procs.read_text().split())
        except OSError:
            continue
    return pids


def kill_all(name: str, timeout: float = 5.0) -> None:
    """SIGKILL every process in the host's cgroups until they are empty."""
    deadline = time.monotonic() + timeout
    while True:
        pids: set[int] = set()
        for cg in host_cgroups(name):
            pids |= _pids_below(cg)
        pids.discard(os.getpid())
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if time.monotonic() > deadline:
            return
        time.sleep(0.05)


def _remove_tree(cg: Path) -> bool:
    """rmdir the cgroup and everything below it, deepest first; whether it is gone."""
    if not cg.exists():
        return True
    for sub in sorted((p for p in cg.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        try:
            sub.rmdir()
        except OSError:
            pass
    try:
        cg.rmdir()
    except OSError:
        return not cg.exists()
    return True


def remove(name: str, patience: float = 30.0) -> list[Path]:
    """Remove the host's cgroups depth-first (including what software inside created). Returns leftovers.

    A cgroup is busy until its last killed process has been reaped, which the machine's init does in its own
    time: under load (50 hosts going down at once, load average 60-70) that took longer than kill_all's wait
    and left a host's cgroups behind, empty. So a busy cgroup is tried again, its processes killed again,
    for up to `patience` seconds."""
    deadline = time.monotonic() + patience
    pending = host_cgroups(name)
    while True:
        pending = [cg for cg in pending if not _remove_tree(cg)]
        if not pending or time.monotonic() > deadline:
            break
        kill_all(name, timeout=1.0)
        time.sleep(0.2)
    left = list(pending)
    for h in hierarchies():
        parent = h / paths.CGROUP_PARENT
        try:
            if parent.exists() and not any(p.is_dir() for p in parent.iterdir()):
                parent.rmdir()
        except OSError:
            pass
    return left
