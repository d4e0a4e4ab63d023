"""Atomic file writes on a host: the finishing script, and a shell-pipe fallback.

Every upload lands in a temporary `.hostprep-*` file in the destination's own directory (so
the final rename is atomic on the same filesystem). `finish_script` then checks the temp
file's sha256 against what was sent, sets mode and owner, and renames it over the
destination; on any failure it removes the temp file and leaves the destination untouched.

`put_via_shell` is the fallback for when no SFTP channel can be had as the become user (for
example a sudoers with `requiretty`): the bytes travel on the command's stdin into `cat`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shlex
from collections.abc import Iterator
from typing import Any, BinaryIO

from hostprep.errors import TransportError
from hostprep.transport.base import BecomeSpec

Data = bytes | bytearray | memoryview | BinaryIO
CHUNK = 256 * 1024


class Payload:
    """Bytes or a seekable binary file, read in chunks (a large file is never held in memory)."""

    def __init__(self, data: Data | None) -> None:
        self._bytes: memoryview | None = None
        self._file: BinaryIO | None = None
        if data is None:
            self._bytes = memoryview(b"")
        elif isinstance(data, (bytes, bytearray, memoryview)):
            self._bytes = memoryview(data)
        else:
            self._file = data
            self._start = data.tell()
        self._sha: str | None = None

    def __len__(self) -> int:
        if self._bytes is not None:
            return len(self._bytes)
        assert self._file is not None
        try:
            return os.fstat(self._file.fileno()).st_size - self._start
        except (OSError, AttributeError, io.UnsupportedOperation):
            end = self._file.seek(0, os.SEEK_END)
            self._file.seek(self._start)
            return end - self._start

    def chunks(self, size: int = CHUNK) -> Iterator[memoryview]:
        if self._bytes is not None:
            for i in range(0, len(self._bytes), size):
                yield self._bytes[i : i + size]
            return
        assert self._file is not None
        self._file.seek(self._start)
        while True:
            block = self._file.read(size)
            if not block:
                return
            yield memoryview(block)

    def sha256(self) -> str:
        if self._sha is None:
            h = hashlib.sha256()
            for chunk in self.chunks():
                h.update(chunk)
            self._sha = h.hexdigest()
        return self._sha


def finish_script(tmp: str, dest: str, sha256: str, mode: str | None, owner: str | None, group: str | None) -> str:
    """Shell steps that check `tmp`, give it mode/owner and rename it over `dest` (or remove it)."""
    q = shlex.quote
    steps = [
        "set -e",
        f"t={q(tmp)}",
        f"d={q(dest)}",
        "trap 'rm -f \"$t\"' EXIT",
        # verify what arrived before it replaces anything
        f'sum=$(sha256sum "$t" | cut -d" " -f1); [ "$sum" = {q(sha256)} ] || '
        '{ echo "hostprep: checksum mismatch after upload" >&2; exit 97; }',
    ]
    if mode is not None:
        steps.append(f'chmod {q(str(mode))} "$t"')
    else:
        steps.append('if [ -e "$d" ]; then chmod "$(stat -c %a "$d")" "$t"; else chmod 0644 "$t"; fi')
    if owner or group:
        spec = (owner or "") + (":" + group if group else "")
        steps.append(f'chown {q(spec)} "$t"')
    else:
        steps.append('if [ -e "$d" ]; then chown "$(stat -c %u:%g "$d")" "$t" 2>/dev/null || true; fi')
    steps += ['mv -f "$t" "$d"', "trap - EXIT"]
    return "\n".join(steps)


def atomic_write_script(dest: str, sha256: str, mode: str | None, owner: str | None, group: str | None,
                        fill: str = 'cat > "$tmp"') -> str:
    """Shell script that writes stdin (or what `fill` writes) into a temp file beside `dest`, checks it,
    renames it."""
    q = shlex.quote
    head = [
        "set -e",
        f"d={q(dest)}",
        'dir=$(dirname -- "$d")',
        'tmp=$(mktemp "$dir/.hostprep-XXXXXXXX")',
        "trap 'rm -f \"$tmp\"' EXIT",
        fill,
    ]
    return "\n".join(head) + "\n" + finish_script("$tmp", dest, sha256, mode, owner, group).replace(
        f"t={q('$tmp')}", 't="$tmp"'
    )


def inline_write_script(data: bytes | bytearray | memoryview, dest: str, mode: str | None, owner: str | None,
                        group: str | None) -> str:
    """`atomic_write_script` with the bytes in the script itself (base64): an upload that needs no stdin
    and no SFTP session, so it can be one request of a probe batch (prober.py: the upload carries the
    next probes). For small files only: the script travels on a command line."""
    if isinstance(mode, int):
        mode = format(mode, "04o")
    raw = bytes(data)
    fill = f"printf %s {base64.b64encode(raw).decode()} | base64 -d > \"$tmp\"" if raw else ': > "$tmp"'
    return atomic_write_script(dest, hashlib.sha256(raw).hexdigest(), mode, owner, group, fill=fill)


def put_via_shell(
    transport: Any,
    data: Data,
    dest: str,
    *,
    mode: str | None = None,
    owner: str | None = None,
    group: str | None = None,
    become: BecomeSpec | None = None,
) -> None:
    """Write `data` to `dest` on `transport`'s host atomically through `sh` on stdin.

    `transport` is an SSHTransport or a LocalTransport: both take a streamed `Payload` (`run_payload`).
    """
    if isinstance(mode, int):
        mode = format(mode, "04o")
    payload = data if isinstance(data, Payload) else Payload(data)
    script = atomic_write_script(dest, payload.sha256(), mode, owner, group)
    result = transport.run_payload(script, become=become, payload=payload)
    if result.rc != 0:
        raise TransportError(f"writing {dest} failed (rc={result.rc}): {result.stderr.strip()}")
