"""File transfer over one host's SSH connection: SFTP, and SFTP as the become user.

Every upload is atomic (remote_put.py): the bytes go to a temporary `.hostprep-*` file in the
destination's directory, their sha256 is checked there, mode and owner are set, and only then
is it renamed over the destination. Under become the SFTP session runs as the become user
(`sudo sftp-server`, started by a shell that prints a marker first so the SFTP stream begins
only after sudo's conversation). Where there is none (su, which needs a terminal; sudoers
`requiretty`; no sftp-server binary) the bytes go through the shell (`put_via_shell`).
"""

from __future__ import annotations

import base64
import hashlib
import os
import posixpath
import select
import shlex
import time
from typing import TYPE_CHECKING

import paramiko

from hostprep.errors import TransportError, UnreachableError
from hostprep.transport.base import BecomeSpec
from hostprep.transport.become import method_for
from hostprep.transport.remote_put import Data, Payload, finish_script, put_via_shell
from hostprep.transport.settings import DEFAULT_CONNECT_TIMEOUT

if TYPE_CHECKING:
    from hostprep.transport.ssh import SSHTransport

SFTP_SERVERS = ("/usr/libexec/openssh/sftp-server", "/usr/lib/openssh/sftp-server", "/usr/lib/ssh/sftp-server",
                "/usr/libexec/sftp-server", "/usr/lib/sftp-server")


class FileTransfer:
    """The SFTP sessions of one SSH transport (the login user's, and one per become user), opened lazily."""

    def __init__(self, transport: SSHTransport) -> None:
        self.transport = transport
        self._sftp: paramiko.SFTPClient | None = None
        self.become_sessions: dict[tuple[str, str], paramiko.SFTPClient] = {}
        self._no_become_sftp: set[tuple[str, str]] = set()

    def _lost(self, what: str) -> UnreachableError:
        self.transport.drop()
        return UnreachableError(f"connection to {self.transport.settings.host} lost{what}")

    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            try:
                self._sftp = self.transport.link.open().client.open_sftp()
            except (paramiko.SSHException, OSError, EOFError) as exc:
                raise self._lost(f": {exc}") from None
        return self._sftp

    def become_sftp(self, become: BecomeSpec) -> paramiko.SFTPClient | None:
        """An SFTP session running as the become user, or None where there can be none (see module doc)."""
        key = (become.user or "root", become.flags)
        if key in self.become_sessions:
            return self.become_sessions[key]
        method = method_for(become)
        if self.transport.pty_become or key in self._no_become_sftp or method.needs_tty:
            return None
        mark = "hostprep-start-" + os.urandom(8).hex()
        paths = " ".join(shlex.quote(p) for p in SFTP_SERVERS)
        inner = (f'for p in {paths}; do if [ -x "$p" ]; then printf %s {mark}; exec "$p"; fi; done; '
                 'echo "hostprep: no sftp-server on this host" >&2; exit 127')
        chan = self.transport.link.channel()
        out, err = bytearray(), bytearray()
        answered = 0
        deadline = time.monotonic() + (self.transport.settings.connect_timeout or DEFAULT_CONNECT_TIMEOUT) + 20
        try:
            chan.exec_command(method.command(become, "/bin/sh -c " + shlex.quote(inner), tty=False))
            while len(out) < len(mark):
                if chan.recv_ready():
                    out += chan.recv(len(mark) - len(out))  # never read past the mark
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                seen = method.prompts(err.decode("utf-8", "replace"))
                if seen > answered:
                    if answered or become.password is None:
                        break
                    chan.sendall(become.password.encode() + b"\n")
                    answered = seen
                if chan.exit_status_ready() and not chan.recv_ready() or time.monotonic() > deadline:
                    break
                select.select([chan], [], [], 0.1)
            if bytes(out) != mark.encode():
                chan.close()
                if method.tty_required(err.decode("utf-8", "replace")):
                    self.transport.pty_become = True
                self._no_become_sftp.add(key)
                return None
            client = paramiko.SFTPClient(chan)
        except (OSError, EOFError, paramiko.SSHException):
            chan.close()
            self._no_become_sftp.add(key)
            return None
        self.become_sessions[key] = client
        return client

    def _session(self, become: BecomeSpec | None) -> tuple[bool, paramiko.SFTPClient | None]:
        as_other = self.transport.needs_become_for_files(become)
        return as_other, self.become_sftp(become) if as_other else self.sftp()  # type: ignore[arg-type]

    def put(self, data: Data, dest: str, *, mode: str | None = None, owner: str | None = None,
            group: str | None = None, become: BecomeSpec | None = None) -> None:
        """Atomic write (see the module doc); `data` may be bytes or a seekable binary file (streamed).

        A failed or interrupted upload leaves `dest` untouched and removes the temp file (a lost
        connection can leave only a `.hostprep-*` file behind).
        """
        if isinstance(mode, int):
            mode = format(mode, "04o")
        payload = Payload(data)
        as_other, sftp = self._session(become)
        if sftp is None:
            put_via_shell(self.transport, payload, dest, mode=mode, owner=owner, group=group, become=become)
            return
        tmp = f"{posixpath.dirname(dest) or '.'}/.hostprep-{os.urandom(6).hex()}"
        digest = hashlib.sha256()
        self.transport.round_trips += 1
        try:
            with sftp.open(tmp, "wbx") as handle:
                handle.chmod(0o600)  # nobody else reads it while it is being written
                handle.set_pipelined(True)
                for chunk in payload.chunks():
                    digest.update(chunk)
                    handle.write(chunk)
        except BaseException as exc:
            try:
                sftp.remove(tmp)
            except Exception:  # noqa: BLE001 - the connection may be gone; the temp stays a .hostprep-*
                pass
            if isinstance(exc, (OSError, paramiko.SSHException, EOFError)):
                if isinstance(exc, (EOFError, paramiko.SSHException)) or not self.transport.link.alive():
                    raise self._lost(f" while writing {dest}") from None
                raise TransportError(f"writing {dest} on {self.transport.name} failed: {exc}") from None
            raise
        res = self.transport.run(finish_script(tmp, dest, digest.hexdigest(), mode, owner, group),
                                 become=become if as_other else None)
        if res.rc != 0:
            raise TransportError(f"writing {dest} on {self.transport.name} failed (rc={res.rc}): "
                                 f"{res.stderr.strip()}")

    def get(self, path: str, *, become: BecomeSpec | None = None) -> bytes:
        """A whole file, by SFTP (as the become user if needed) or else through the shell in base64."""
        _, sftp = self._session(become)
        if sftp is None:
            res = self.transport.run(f"base64 < {shlex.quote(path)}", become=become)
            if res.rc != 0:
                raise TransportError(f"reading {path} on {self.transport.name} failed: {res.stderr.strip()}")
            return base64.b64decode(res.stdout)
        self.transport.round_trips += 1
        try:
            with sftp.open(path, "rb") as handle:
                handle.prefetch()
                return handle.read()
        except OSError as exc:
            raise TransportError(f"reading {path} on {self.transport.name} failed: {exc}") from None

    def forget(self) -> None:
        """Close every session (the connection is going away or went away)."""
        for client in [self._sftp, *self.become_sessions.values()]:
            if client is not None:
                try:
                    client.close()
                except Exception:  # noqa: BLE001 - closing a dead channel must not mask the real error
                    pass
        self._sftp = None
        self.become_sessions.clear()
