"""Escape through the kernel keyring: a key in the session keyring of whoever runs the CLI (root's, on a host)
must not be readable in the container. Each container gets a session keyring of its own, and the seccomp
filter denies keyctl/add_key/request_key on top (as Docker's profile does)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.runtime.support import HOST_PYTHON, PYTHON_IN_CONTAINER, runtime_argv

NUMBERS = {"x86_64": "{'keyctl': 250, 'add_key': 248}",
           "aarch64": "{'keyctl': 219, 'add_key': 217}"}[os.uname().machine]
PRELUDE = f"""
import ctypes, os, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
nr = {NUMBERS}
L = ctypes.c_long
"""
# the host side: a session keyring of its own with a secret in it, then the command (the CLI) inside it
WITH_SECRET = PRELUDE + """
assert libc.syscall(L(nr['keyctl']), L(1), b"hostprep-test-session") > 0, os.strerror(ctypes.get_errno())
assert libc.syscall(L(nr['add_key']), b"user", b"hostprep-secret", b"s3cret", L(6), L(-3)) > 0
sys.exit(subprocess.run(sys.argv[1:]).returncode)
"""
# the attacker: look the key up in its session keyring (KEYCTL_SEARCH), the way `keyctl search @s` does
SEARCH = PRELUDE + """
found = libc.syscall(L(nr['keyctl']), L(10), L(-3), b"user", b"hostprep-secret", L(0))
print("found" if found > 0 else os.strerror(ctypes.get_errno()))
"""


def test_the_key_is_found_by_a_host_process() -> None:
    """The control: a host process of the same session finds the key (so the test below can fail)."""
    res = subprocess.run([sys.executable, "-c", WITH_SECRET, sys.executable, "-c", SEARCH], capture_output=True,
                         text=True)
    assert res.stdout.strip() == "found", res.stderr


def test_container_cannot_read_the_callers_keys(rt) -> None:
    def attack(*opts: str) -> str:
        argv = runtime_argv(rt, "run", "--rm", *HOST_PYTHON, *opts, "bb", PYTHON_IN_CONTAINER, "-c", SEARCH)
        res = subprocess.run([sys.executable, "-c", WITH_SECRET, *argv], capture_output=True, text=True, env=rt.env,
                             timeout=60)
        assert res.returncode == 0, res.stderr
        return res.stdout.strip()

    # without the filter: its own, empty session keyring
    assert attack("--security-opt", "seccomp=unconfined") == "Required key not available"
    # with it (the default), keyctl itself is refused
    assert attack() == "Operation not permitted"
