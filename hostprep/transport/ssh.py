"""SSH transport: one host, one connection for the whole run, commands as raw channels of it.

The parts, each in its own module (Fabric's proportions): settings.py reads the host's
variables and ssh args; known_hosts.py checks host keys; connection.py opens the ProxyJump
chain and watches liveness; files.py moves files by SFTP; become.py knows sudo and su. This
module runs commands: over raw paramiko channels of the Fabric connection, because they let us
feed the become password and the payload on stdin and read stdout and stderr without invoke's
thread-per-stream runners.

Become: the password goes on the channel's stdin (or into the pty) only after the method has
printed its prompt, and the command's own stdin only after a start marker printed by the
become shell, so the password never reaches the command, a command line or the output. su
always runs on a pty; sudo does on hosts whose sudoers says `requiretty` ("sorry, you must have
a tty"), found on first use. On a pty the terminal is put in raw mode, stdin is framed by length
(`head -c N`) and stderr/rc come back after markers.
"""

from __future__ import annotations

import os
import select
import shlex
import time
from collections.abc import Mapping
from typing import Any

import paramiko
from fabric import Connection

from hostprep.errors import HostKeyError, TransportError, UnreachableError
from hostprep.transport.base import BecomeSpec, RunResult, wrap_sh
from hostprep.transport.become import BecomeMethod, method_for
from hostprep.transport.connection import HostConnection
from hostprep.transport.files import FileTransfer
from hostprep.transport.remote_put import Data, Payload
from hostprep.transport.settings import SSHSettings

IDLE_WAIT = 1.0  # seconds `_exchange` sleeps at most while a command is silent (keepalive and deadline checks)

__all__ = ["SSHSettings", "SSHTransport"]


class SSHTransport:
    """A host reached over SSH, with one Fabric Connection reused by every command."""

    # an upload costs two round trips here (the SFTP write, then the finishing script): the fast path
    # (executor/prober.py) sends a file up to this size inside one script instead, with the next probes
    inline_put_max = 16 * 1024

    def __init__(self, settings: SSHSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.round_trips = 0
        self.link = HostConnection(settings)
        self.files = FileTransfer(self)
        self.pty_become = False  # set once sudo said it needs a tty (sudoers requiretty)

    @classmethod
    def from_hostvars(cls, name: str, hostvars: Mapping[str, Any]) -> SSHTransport:
        return cls(SSHSettings.from_hostvars(name, hostvars))

    # -- connection --------------------------------------------------------------------
    def connect(self) -> Connection:
        """The host's Fabric connection, opened on first use."""
        return self.link.open()

    def reconnect(self, timeout: float = 600.0) -> None:
        """Drop the connection and connect again, waiting up to `timeout` (used after a reboot)."""
        self.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connect()
                return
            except HostKeyError:
                raise
            except UnreachableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)

    def drop(self) -> None:
        """Forget the connection and its SFTP sessions after a failure; the next use reconnects."""
        self.files.forget()
        self.link.drop()

    @property
    def _conn(self) -> Connection | None:
        return self.link.conn

    @property
    def _become_sftp(self) -> dict[tuple[str, str], paramiko.SFTPClient]:
        return self.files.become_sessions

    # -- commands ----------------------------------------------------------------------
    def run(
        self,
        command: str,
        *,
        become: BecomeSpec | None = None,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> RunResult:
        """Run `command` with /bin/sh -c (as the become user if asked); never raises on rc != 0."""
        return self.run_payload(command, become=become, env=env, payload=Payload(stdin), timeout=timeout)

    def run_payload(self, command: str, *, become: BecomeSpec | None = None, env: dict[str, str] | None = None,
                    payload: Payload, timeout: float | None = None) -> RunResult:
        """`run` with stdin from a `Payload` (bytes or a file, streamed)."""
        self.round_trips += 1
        if become is None or not become.enabled:
            return self._exchange(self.link.channel(), wrap_sh(command, env), payload, timeout)
        method = method_for(become)
        if not (self.pty_become or method.needs_tty):
            mark = "hostprep-start-" + os.urandom(8).hex()
            inner = f"printf %s {mark}; exec {wrap_sh(command, env)}"
            line = method.command(become, "/bin/sh -c " + shlex.quote(inner), tty=False)
            result = self._exchange(self.link.channel(), line, payload, timeout, become=become, method=method,
                                    mark=mark)
            if result.started or not method.tty_required(result.stderr):
                return result
            self.pty_become = True  # sudoers `requiretty`: this host's become commands get a pty
        return self._run_pty(command, become, method, env, payload, timeout)

    def _run_pty(self, command: str, become: BecomeSpec, method: BecomeMethod, env: dict[str, str] | None,
                 payload: Payload, timeout: float | None) -> RunResult:
        """A become command on a pty, with stdout, stderr and rc kept apart by markers."""
        token = os.urandom(8).hex()
        start, errmark, rcmark = f"hostprep-start-{token}", f"hostprep-stderr-{token}", f"hostprep-rc-{token}"
        size = len(payload)
        feed = f"head -c {size} | " if size else ""
        tail = "" if size else " </dev/null"
        inner = "\n".join([
            "stty raw -echo 2>/dev/null",  # (again) as the become user: su reads its password in cooked mode
            'e=$(mktemp 2>/dev/null) || e=/tmp/.hostprep-err-$$',
            f"printf %s {start}",
            f'{{ {feed}{wrap_sh(command, env)}{tail}; }} 2>"$e"',
            "rc=$?",
            f'printf %s {errmark}; cat "$e"; rm -f "$e"; printf "%s%d:" {rcmark} "$rc"',
            'exit "$rc"',
        ])
        # sudo reads its password fine in raw mode; su (PAM) wants a cooked line, but never an echo
        stty = "stty -echo" if method.needs_tty else "stty raw -echo"
        line = f"{stty} 2>/dev/null; exec " + method.command(become, "/bin/sh -c " + shlex.quote(inner), tty=True)
        result = self._exchange(self.link.channel(pty=True), line, payload, timeout, become=become, method=method,
                                mark=start, pty=True)
        if not result.started:
            return result
        out = result.stdout
        i = out.rfind(errmark)
        j = out.rfind(rcmark)
        if i < 0 or j < i:
            return RunResult(result.rc, out, result.stderr + "\nhostprep: command output was cut off")
        rc_text = out[j + len(rcmark):].split(":", 1)[0]
        rc = int(rc_text) if rc_text.lstrip("-").isdigit() else result.rc
        return RunResult(rc, out[:i], result.stderr + out[i + len(errmark):j])

    def _exchange(self, chan: paramiko.Channel, line: str, payload: Payload, timeout: float | None, *,
                  become: BecomeSpec | None = None, method: BecomeMethod | None = None, mark: str | None = None,
                  pty: bool = False) -> RunResult:
        """Drive one command: answer the become prompt, then send stdin, and collect stdout/stderr/rc.

        With `mark`, stdin (and nothing else) is sent only once the become shell printed the
        mark; the password only in answer to the method's prompt, and once (a second prompt means
        it was wrong: stdin is closed, or on a pty the channel, and the method fails).
        """
        out, err, chatter = bytearray(), bytearray(), bytearray()
        password = become.password if become is not None else None
        mark_b = mark.encode() if mark else b""
        started = mark is None
        answered = 0
        chunks = payload.chunks(32768)
        pending: memoryview | None = None
        sending = True
        deadline = time.monotonic() + timeout if timeout else None
        liveness = self.link.liveness(chan)
        last_rx = time.monotonic()
        try:
            chan.exec_command(line)
            while True:
                got = len(out) + len(err)
                while chan.recv_ready():
                    out += chan.recv(65536)
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                if len(out) + len(err) != got:
                    last_rx = time.monotonic()
                elif liveness is not None:
                    liveness.check(time.monotonic() - last_rx)
                if not started:
                    idx = out.find(mark_b)
                    if idx >= 0:
                        chatter += out[:idx]
                        del out[: idx + len(mark_b)]
                        started = True
                    elif method is not None:
                        seen = method.prompts((out if pty else err).decode("utf-8", "replace"))
                        if seen > answered:
                            if answered == 0 and password is not None:
                                chan.sendall(password.encode() + b"\n")
                            elif pty:
                                answered = seen
                                chan.close()  # a wrong or missing password: stop the method asking again
                                break
                            else:
                                chan.shutdown_write()
                                sending = False
                            answered = seen
                if started and sending and chan.send_ready():
                    if pending is None:
                        pending = next(chunks, None)
                    if pending is None:
                        sending = False
                        if not pty:
                            chan.shutdown_write()
                    else:
                        n = chan.send(pending)
                        pending = pending[n:] if n < len(pending) else None
                # done once the exit status and EOF arrived and nothing is left to read
                if (chan.exit_status_ready() and (chan.eof_received or chan.closed)
                        and not chan.recv_ready() and not chan.recv_stderr_ready()):
                    break
                if deadline and time.monotonic() > deadline:
                    raise TransportError(f"command timed out after {timeout}s on {self.name}")
                self._wait(chan, deadline, sending=started and sending)
            rc = chan.recv_exit_status() if chan.exit_status_ready() else 1
            if rc < 0 and not self.link.alive():
                raise EOFError("the connection closed before the command's exit status came")
            rc = 1 if rc < 0 else rc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self.drop()
            raise UnreachableError(f"connection to {self.settings.host} lost: {exc}") from None
        finally:
            chan.close()
        return self._result(rc, out, err, chatter, started, answered, become, method)

    @staticmethod
    def _wait(chan: paramiko.Channel, deadline: float | None, *, sending: bool) -> None:
        """Sleep until the channel has something for `_exchange`: output, EOF, the exit status or close.

        The channel's fileno is readable while output is buffered and stays readable once EOF came, so
        after EOF the wait is for the exit status (status_event), not the fileno (which would spin).
        While stdin is being sent the wait is short (the send window may open without any output).
        Otherwise it wakes at least once a second for the keepalive check and the deadline: a long
        command (dnf installing Docker) used to wake `_exchange` five times a second on every host.
        """
        wait = 0.02 if sending else IDLE_WAIT
        if deadline is not None:
            wait = max(0.0, min(wait, deadline - time.monotonic()))
        if chan.eof_received and not chan.recv_ready() and not chan.recv_stderr_ready():
            chan.status_event.wait(wait)
        else:
            select.select([chan], [], [], wait)

    @staticmethod
    def _result(rc: int, out: bytearray, err: bytearray, chatter: bytearray, started: bool, answered: int,
                become: BecomeSpec | None, method: BecomeMethod | None) -> RunResult:
        if not started:  # the method failed before the command ran: what it said is the error
            chatter += out
            out = bytearray()
        # the method's words before the command started: its prompt (and the newline printed after
        # the password was read) are not part of the result
        before = chatter.decode("utf-8", "replace")
        errors = err.decode("utf-8", "replace")
        if method is not None:
            before, errors = method.strip_prompts(before), method.strip_prompts(errors)
        before = before.replace("\r\n", "\n")
        stderr = (before if before.strip() else "") + errors
        if not started and method is not None and become is not None:
            said = chatter.decode("utf-8", "replace") + err.decode("utf-8", "replace")
            if answered and become.password is None:
                stderr += f"\nhostprep: {method.name} asked for a password and none was given " \
                          "(-K, --ask-become-pass or ansible_become_password)"
            elif method.refused(said, answered):
                stderr += f"\nhostprep: {method.name} refused the become password"
        return RunResult(rc, out.decode("utf-8", "replace"), stderr, started=started)

    # -- files -------------------------------------------------------------------------
    def needs_become_for_files(self, become: BecomeSpec | None) -> bool:
        """Whether file work needs the become user (not when we log in as that user already)."""
        if become is None or not become.enabled:
            return False
        return become.flags != "" or self.connect().user != (become.user or "root")

    def put(self, data: Data, dest: str, *, mode: str | None = None, owner: str | None = None,
            group: str | None = None, become: BecomeSpec | None = None) -> None:
        """Atomic write of `data` to `dest` (see files.py)."""
        self.files.put(data, dest, mode=mode, owner=owner, group=group, become=become)

    def get(self, path: str, *, become: BecomeSpec | None = None) -> bytes:
        return self.files.get(path, become=become)

    def close(self) -> None:
        self.files.forget()
        if self.link.conn is not None:
            self.link.drop()
