"""The one small interface that modules and the executor use to touch a host.

Everything a module does on a host goes through `Transport`: run a shell command (optionally
with become), upload bytes atomically, read a file. Keeping it this small lets the SSH
transport be hardened and sped up (fleet issue) without touching any module.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass
class RunResult:
    """Outcome of one shell command on a host."""

    rc: int
    stdout: str
    stderr: str
    # False when become failed before the command ran (wrong password, no tty): then stderr
    # holds what sudo/su said and the command itself never started
    started: bool = True

    @property
    def ok(self) -> bool:
        return self.rc == 0


@dataclass
class BecomeSpec:
    """How to gain privileges for a command: `method` (sudo or su, see become.py) to `user`."""

    enabled: bool = False
    user: str = "root"
    password: str | None = field(default=None, repr=False)
    method: str = "sudo"
    flags: str = ""
    exe: str = ""  # the method's program if not its name (ansible_become_exe, ansible_sudo_exe, ...)
    prompts: tuple[str, ...] = ()  # su: the localised prompt words to expect (ansible_su_prompt_l10n)


@runtime_checkable
class Transport(Protocol):
    """What a host connection offers. Implementations: `ssh.SSHTransport`, `local.LocalTransport`."""

    name: str
    round_trips: int

    def run(
        self,
        command: str,
        *,
        become: BecomeSpec | None = None,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> RunResult:
        """Run `command` with /bin/sh -c; never raises on a non-zero exit code."""
        ...

    def put(
        self,
        data: bytes,
        dest: str,
        *,
        mode: str | None = None,
        owner: str | None = None,
        group: str | None = None,
        become: BecomeSpec | None = None,
    ) -> None:
        """Write `data` to `dest` atomically (temp file on the same filesystem, then rename)."""
        ...

    def get(self, path: str, *, become: BecomeSpec | None = None) -> bytes:
        """Read a whole file from the host."""
        ...

    def close(self) -> None:
        ...


def wrap_sh(command: str, env: dict[str, str] | None = None) -> str:
    """`/bin/sh -c COMMAND` with env assignments in front, quoted for a remote shell."""
    prefix = ""
    if env:
        prefix = "env " + " ".join(f"{k}={shlex.quote(str(v))}" for k, v in env.items()) + " "
    return f"{prefix}/bin/sh -c {shlex.quote(command)}"

