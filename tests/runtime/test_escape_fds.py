"""Escape through inherited file descriptors (the class of runc's CVE-2024-21626): a directory descriptor the
caller of the CLI holds must not reach the container's process in `run`, `run -d` or `exec`, nor serve as
its working directory; and the Python PID 1 of --init exposes neither its descriptors nor its executable."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from tests.runtime.support import runtime_argv

SECRET = "host-secret-through-a-descriptor"


def _host_dir_fd(tmp_path: Path) -> int:
    """A directory of the host with a secret in it, open as an inheritable descriptor (what an attacker's
    caller, or a careless parent, leaves open)."""
    (tmp_path / "secret").write_text(SECRET + "\n")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    os.set_inheritable(fd, True)
    return fd


def _cli(rt, fd: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(runtime_argv(rt, *args), capture_output=True, text=True, env=rt.env, timeout=60,
                          pass_fds=(fd,), close_fds=True)


ATTACK = "for f in /proc/self/fd/*; do cat $f/secret 2>/dev/null; done; ls /proc/self/fd | tr '\\n' ' '"


def test_the_descriptor_reaches_a_host_process(tmp_path: Path) -> None:
    """The control: the same attack from a plain host process reads the secret (so the tests below can fail)."""
    fd = _host_dir_fd(tmp_path)
    try:
        res = subprocess.run(["sh", "-c", f"cat /proc/self/fd/{fd}/secret"], capture_output=True, text=True,
                             pass_fds=(fd,))
        assert res.stdout.strip() == SECRET
    finally:
        os.close(fd)


def test_run_closes_inherited_descriptors(rt, tmp_path: Path) -> None:
    fd = _host_dir_fd(tmp_path)
    try:
        res = _cli(rt, fd, "run", "--rm", "bb", "sh", "-c", ATTACK)
        assert res.returncode == 0, res.stderr
        assert SECRET not in res.stdout
        assert res.stdout.split() == ["0", "1", "2", "3"], res.stdout  # stdio, and ls's own directory
        # the working directory named by the descriptor (runc's CVE-2024-21626) is the container's own path
        res = _cli(rt, fd, "run", "--rm", "-w", f"/proc/self/fd/{fd}", "bb", "sh", "-c", "cat secret; pwd")
        assert SECRET not in res.stdout and res.returncode != 0, (res.stdout, res.stderr)
        # --init: PID 1 (the runtime's Python) is not dumpable: neither its descriptors nor /proc/1/exe (the
        # host's interpreter, which a process allowed to open it for writing could replace)
        res = _cli(rt, fd, "run", "--rm", "--init", "bb", "sh", "-c",
                   "readlink /proc/1/exe || echo no-exe; readlink /proc/1/fd/1 || echo no-fd; "
                   "cat /proc/1/exe > /dev/null 2>&1 || echo no-read; readlink /proc/self/exe")
        assert res.stdout.split() == ["no-exe", "no-fd", "no-read", "/bin/busybox"], res.stdout
    finally:
        os.close(fd)


def test_detached_run_and_exec_close_inherited_descriptors(rt, tmp_path: Path) -> None:
    fd = _host_dir_fd(tmp_path)
    name = f"fds{os.getpid()}"
    try:
        res = _cli(rt, fd, "run", "-d", "--name", name, "bb", "sh", "-c", ATTACK + "; echo; sleep 30")
        assert res.returncode == 0, res.stderr
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not rt("logs", name).stdout.endswith("\n"):
            time.sleep(0.05)
        logged = rt("logs", name).stdout
        assert SECRET not in logged and logged.split() == ["0", "1", "2", "3"], logged
        # the monitor itself (on the host) keeps none of them either
        monitor = json.loads(rt("inspect", name).stdout)["monitor_pid"]
        assert sorted(int(x) for x in os.listdir(f"/proc/{monitor}/fd")) == [0, 1, 2], os.listdir(
            f"/proc/{monitor}/fd")
        res = _cli(rt, fd, "exec", name, "sh", "-c", ATTACK)
        assert res.returncode == 0, res.stderr
        assert SECRET not in res.stdout and res.stdout.split() == ["0", "1", "2", "3"], res.stdout
        res = _cli(rt, fd, "exec", "-w", f"/proc/self/fd/{fd}", name, "sh", "-c", "cat secret")
        assert SECRET not in res.stdout and res.returncode != 0
    finally:
        os.close(fd)
        rt("rm", "-f", name)
