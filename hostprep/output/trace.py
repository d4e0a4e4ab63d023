"""-vvv: each round trip of a host's connection and what it carried, and the connection's details.

Ansible's -vvv shows the SSH commands it runs; hostprep shows for every round trip its kind (command,
upload, download), the sizes that went each way, the exit code and the time, and for the connection
the user, address, port, key files, jump hosts and host-key policy. No command text and no file
content is shown: both may hold secrets (no_log values, vaulted data), which are never printed.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

_lock = threading.Lock()


def connection_line(name: str, transport: Any) -> str:
    """What the connection of `name` is: local, or ssh with its settings (never the password)."""
    settings = getattr(transport, "settings", None)
    if settings is None:
        return f"<{name}> ESTABLISH LOCAL CONNECTION ({type(transport).__name__})"
    parts = [f"user={settings.user or '(ssh_config)'}", f"address={settings.host}",
             f"port={settings.port or '(ssh_config)'}"]
    if settings.key_files:
        parts.append(f"keys={','.join(settings.key_files)}")
    if settings.proxy_jump:
        parts.append(f"jump={settings.proxy_jump}")
    if settings.proxy_command:
        parts.append("proxy_command=yes")
    parts.append(f"host_key_policy={settings.host_key_policy} ({settings.host_key_policy_source})")
    if settings.password is not None:
        parts.append("password=(given, hidden)")
    return f"<{name}> ESTABLISH SSH CONNECTION {' '.join(parts)}"


class TracingTransport:
    """A transport that reports each call (a round trip) on stderr, then does it."""

    def __init__(self, inner: Any, name: str, stream: TextIO | None = None) -> None:
        self.inner = inner
        self.name = name
        self.stream = stream or sys.stderr
        self._count = 0
        self._say(connection_line(name, inner))

    def _say(self, text: str) -> None:
        with _lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def _trip(self, what: str, started: float, outcome: str) -> None:
        self._count += 1
        self._say(f"<{self.name}> round trip {self._count}: {what} -> {outcome} in {time.monotonic() - started:.3f}s")

    def run(self, command: str, *, become: Any = None, env: Any = None, stdin: bytes | None = None,
            timeout: float | None = None) -> Any:
        started = time.monotonic()
        res = self.inner.run(command, become=become, env=env, stdin=stdin, timeout=timeout)
        who = f" as {become.user}" if become is not None and getattr(become, "enabled", False) else ""
        carried = f"command of {len(command)} bytes{who}" + (f", {len(stdin)} bytes of input" if stdin else "")
        self._trip(carried, started, f"rc={res.rc}, {len(res.stdout)} bytes out, {len(res.stderr)} bytes err")
        return res

    def put(self, data: bytes, dest: str, **kwargs: Any) -> None:
        started = time.monotonic()
        self.inner.put(data, dest, **kwargs)
        self._trip(f"upload of {len(data)} bytes to {dest}", started, "done")

    def get(self, path: str, **kwargs: Any) -> bytes:
        started = time.monotonic()
        data = self.inner.get(path, **kwargs)
        self._trip(f"download of {path}", started, f"{len(data)} bytes")
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
