"""Escape through the caller's terminal: a container must not push keystrokes into the shell that started it
(TIOCSTI), which works for any process whose controlling terminal it is. The container runs in a session of
its own without one; with -t it gets a pty of its own (-i/-t as Docker has them)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
import time

from tests.runtime.support import HOST_PYTHON, PYTHON_IN_CONTAINER, runtime_argv

INJECT = """
import fcntl, os, termios
out = []
for fd in (0, 1, 2):
    try:
        for c in "echo INJECTED\\n":
            fcntl.ioctl(fd, termios.TIOCSTI, c.encode())
        out.append("pushed")
    except OSError as exc:
        out.append(os.strerror(exc.errno))
try:
    os.open("/dev/tty", os.O_RDWR)
    out.append("tty-opened")
except OSError as exc:
    out.append(os.strerror(exc.errno))
print(out)
"""


def _in_terminal(argv: list[str], env: dict[str, str]) -> tuple[str, bytes]:
    """Run `argv` as the shell of a new terminal would be (the pty is its controlling terminal, 33 rows of 101
    columns); return what it printed and what is waiting as typed input on the terminal once it has exited
    (what the shell would run)."""
    master, slave = pty.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    try:
        proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                preexec_fn=controlling_terminal)
        output = b""
        os.set_blocking(master, False)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                output += os.read(master, 65536)
            except BlockingIOError:
                time.sleep(0.02)
        proc.wait(timeout=5)
        time.sleep(0.05)
        try:
            output += os.read(master, 65536)
        except (BlockingIOError, OSError):
            pass
        os.set_blocking(slave, False)
        try:
            typed = os.read(slave, 65536)
        except BlockingIOError:
            typed = b""
        return output.decode(errors="replace"), typed
    finally:
        os.close(master)
        os.close(slave)


def test_tiocsti_works_from_a_process_of_the_terminal() -> None:
    """The control: the attack from a host process of the same session pushes the line (so the test below
    can fail)."""
    output, typed = _in_terminal([PYTHON_IN_CONTAINER, "-c", INJECT], dict(os.environ))
    assert b"echo INJECTED" in typed, output


def test_container_cannot_push_keystrokes_into_the_callers_terminal(rt) -> None:
    for extra in ([], ["-i"], ["--security-opt", "seccomp=unconfined"], ["-i", "--security-opt", "seccomp=unconfined"]):
        output, typed = _in_terminal(runtime_argv(rt, "run", "--rm", *HOST_PYTHON, *extra, "bb", PYTHON_IN_CONTAINER,
                                                  "-c", INJECT), rt.env)
        assert "pushed" not in output and "tty-opened" not in output, (extra, output)
        assert "Operation not permitted" in output, (extra, output)
        assert typed == b"", (extra, typed)


def test_tty_gives_the_container_a_pty_of_its_own(rt) -> None:
    res = rt("run", "--rm", "-t", "bb", "sh", "-c", "tty; readlink /proc/self/fd/0; test -c /dev/console && echo con")
    assert res.returncode == 0, res.stderr
    assert res.stdout.replace("\r", "").split() == ["/dev/pts/0", "/dev/pts/0", "con"], res.stdout
    # the container's pty is its own: what it pushes into it (allowed without seccomp, it is its own terminal)
    # never reaches the caller's
    output, typed = _in_terminal(runtime_argv(rt, "run", "--rm", "-t", *HOST_PYTHON, "--security-opt",
                                              "seccomp=unconfined", "bb", PYTHON_IN_CONTAINER, "-c", INJECT), rt.env)
    assert "pushed" in output and typed == b"", (output, typed)
    # and its size is the caller's
    output, _ = _in_terminal(runtime_argv(rt, "run", "--rm", "-t", "bb", "stty", "size"), rt.env)
    assert output.split() == ["33", "101"], output


def test_interactive_stdin_and_exec_tty(rt) -> None:
    assert rt.input("hello\n", "run", "--rm", "-i", "bb", "cat").stdout == "hello\n"
    assert rt.input("hello\n", "run", "--rm", "bb", "cat").stdout == ""  # without -i stdin is /dev/null
    name = f"tty{os.getpid()}"
    assert rt("run", "-d", "--name", name, "bb", "sleep", "30").returncode == 0
    try:
        res = rt("exec", "-t", name, "sh", "-c", "tty")
        assert res.returncode == 0 and res.stdout.strip() == "/dev/pts/0", (res.stdout, res.stderr)
        assert rt.input("typed\n", "exec", "-i", name, "cat").stdout == "typed\n"
        assert rt.input("typed\n", "exec", name, "cat").stdout == ""
    finally:
        rt("rm", "-f", name)
