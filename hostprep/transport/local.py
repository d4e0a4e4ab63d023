"""Run on the control node itself (`ansible_connection: local`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import replace

from hostprep.errors import TransportError
from hostprep.transport.base import BecomeSpec, RunResult, wrap_sh
from hostprep.transport.become import batch_line, method_for
from hostprep.transport.remote_put import Payload, put_via_shell


class LocalTransport:
    """Commands via subprocess, files via a temp file in the destination directory and rename."""

    def __init__(self, name: str = "localhost") -> None:
        self.name = name
        self.round_trips = 0

    def run(
        self,
        command: str,
        *,
        become: BecomeSpec | None = None,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> RunResult:
        self.round_trips += 1
        if become and become.enabled and become.password is not None and os.geteuid() == 0:
            # root's sudo never asks: a password fed on stdin would reach the command instead
            become = replace(become, password=None)
        line = wrap_sh(command, env)
        data = stdin or b""
        if become and become.enabled:
            wrapped = batch_line(become, line, keep_stdin=True)
            if wrapped is None:
                raise TransportError(f"become_method {become.method} with a password needs a terminal, which "
                                     "the local connection does not have")
            line = wrapped
            if become.password is not None:
                data = become.password.encode() + b"\n" + data
        proc = subprocess.run(
            ["/bin/sh", "-c", line], input=data, capture_output=True, timeout=timeout, check=False
        )
        stderr = proc.stderr.decode("utf-8", "replace")
        if become and become.enabled:
            stderr = method_for(become).strip_prompts(stderr)
        return RunResult(proc.returncode, proc.stdout.decode("utf-8", "replace"), stderr)

    def run_payload(self, command: str, *, become: BecomeSpec | None = None, env: dict[str, str] | None = None,
                    payload: Payload, timeout: float | None = None) -> RunResult:
        """`run` with stdin from a `Payload` (what put_via_shell hands every transport)."""
        return self.run(command, become=become, env=env, stdin=b"".join(payload.chunks()), timeout=timeout)

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
        if become and become.enabled and os.geteuid() != 0:
            put_via_shell(self, data, dest, mode=mode, owner=owner, group=group, become=become)
            return
        directory = os.path.dirname(dest) or "."
        fd, tmp = tempfile.mkstemp(prefix=".hostprep-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if mode is not None:
                os.chmod(tmp, int(str(mode), 8) if not isinstance(mode, int) else mode)
            elif os.path.exists(dest):
                os.chmod(tmp, os.stat(dest).st_mode & 0o7777)
            else:
                os.chmod(tmp, 0o644)
            if owner or group:  # a number given as text is an id, as chown(1) takes it
                shutil.chown(tmp, _id_or_name(owner), _id_or_name(group))
            os.replace(tmp, dest)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def get(self, path: str, *, become: BecomeSpec | None = None) -> bytes:
        self.round_trips += 1
        with open(path, "rb") as handle:
            return handle.read()

    def close(self) -> None:
        pass


def _id_or_name(value: str | int | None) -> str | int | None:
    """A uid/gid given as text ("0") as the number (shutil.chown would look it up as a name), else the name."""
    if value is None or value == "":
        return None
    return int(value) if isinstance(value, int) or str(value).isdigit() else str(value)
