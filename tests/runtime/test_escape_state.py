"""No unsupervised container: when the CLI of a foreground `run` is killed (SIGKILL, nothing can be caught),
the container dies with it, and the next command that finds its record cleans up its cgroups and state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.runtime.support import runtime_argv


def _wait(predicate, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_killed_cli_takes_its_container_along(rt) -> None:
    name = f"orphan{os.getpid()}"
    cli = subprocess.Popen(runtime_argv(rt, "run", "--name", name, "--pids-limit", "20", "bb", "sh", "-c",
                                        "sleep 100 & sleep 100"), env=rt.env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        assert _wait(lambda: name in rt("ps").stdout), "the container did not start"
        state = json.loads(rt("inspect", name).stdout)
        pid1 = state["pid1"]
        cgroups = list(state["cgroup"].values())
        assert all(Path(p).exists() for p in cgroups)
        cli.send_signal(signal.SIGKILL)
        cli.wait()
        # PID 1 died with its supervisor, and the whole PID namespace with it
        assert _wait(lambda: not Path(f"/proc/{pid1}").exists()), "PID 1 outlived its supervisor"
        ps = rt("ps", "-a").stdout
        line = [x for x in ps.splitlines() if name in x]
        assert line and "exited(137)" in line[0], ps
        assert not any(Path(p).exists() for p in cgroups), "the dead container's cgroups were left"
        assert not (rt.state / "containers" / state["id"] / "work").exists()
    finally:
        if cli.poll() is None:
            cli.kill()
        rt("rm", "-f", name)


def test_killed_cli_of_a_rm_container_leaves_nothing(rt) -> None:
    cli = subprocess.Popen(runtime_argv(rt, "run", "--rm", "bb", "sleep", "100"), env=rt.env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        containers = rt.state / "containers"
        assert _wait(lambda: any((d / "state.json").exists() for d in containers.iterdir())), "did not start"
        cid = next(d.name for d in containers.iterdir() if (d / "state.json").exists())
        cli.send_signal(signal.SIGKILL)
        cli.wait()
        assert _wait(lambda: rt("ps", "-a").returncode == 0 and not (containers / cid).exists())
    finally:
        if cli.poll() is None:
            cli.kill()


def _in_cgroup(state: dict, cmdline: bytes) -> list[int]:
    """Processes of the container's cgroup whose command line is `cmdline` (NUL-separated)."""
    found = []
    path = next(iter(state["cgroup"].values()))
    for pid in Path(path, "cgroup.procs").read_text().split():
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes() == cmdline:
                found.append(int(pid))
        except OSError:
            pass
    return found


def test_killed_exec_cli_takes_its_process_along(rt) -> None:
    name = f"execkill{os.getpid()}"
    assert rt("run", "-d", "--name", name, "bb", "sleep", "100").returncode == 0
    try:
        state = json.loads(rt("inspect", name).stdout)
        cli = subprocess.Popen(runtime_argv(rt, "exec", name, "sleep", "99"), env=rt.env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        assert _wait(lambda: _in_cgroup(state, b"sleep\x0099\x00")), "the exec'd command did not start"
        cli.send_signal(signal.SIGKILL)
        cli.wait()
        assert _wait(lambda: not _in_cgroup(state, b"sleep\x0099\x00")), "the exec'd command outlived its CLI"
        assert _in_cgroup(state, b"sleep\x00100\x00"), "the container itself must go on"
    finally:
        rt("rm", "-f", name)
