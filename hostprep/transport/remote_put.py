"""Atomic file writes through a shell pipe, for writes that need become.

The bytes travel on stdin (after the sudo password line, if any) into a temporary file in
the destination's own directory; mode and owner are set on the temp file, which is then
renamed over the destination. A reader never sees a half-written file, and a failed write
leaves the old file untouched.
"""

from __future__ import annotations

import hashlib
import shlex

from hostprep.errors import TransportError
from hostprep.transport.base import BecomeSpec


def atomic_write_script(dest: str, sha256: str, mode: str | None, owner: str | None, group: str | None) -> str:
    """Shell script that reads stdin into a temp file beside `dest`, checks it, renames it."""
    q = shlex.quote
    steps = [
        "set -e",
        f"d={q(dest)}",
        'dir=$(dirname -- "$d")',
        'tmp=$(mktemp "$dir/.hostprep-XXXXXXXX")',
        "trap 'rm -f \"$tmp\"' EXIT",
        'cat > "$tmp"',
        # verify what arrived before it replaces anything
        f'sum=$(sha256sum "$tmp" | cut -d" " -f1); [ "$sum" = {q(sha256)} ] || '
        '{ echo "hostprep: checksum mismatch after upload" >&2; exit 97; }',
    ]
    if mode is not None:
        steps.append(f'chmod {q(str(mode))} "$tmp"')
    else:
        steps.append('if [ -e "$d" ]; then chmod "$(stat -c %a "$d")" "$tmp"; else chmod 0644 "$tmp"; fi')
    if owner or group:
        spec = (owner or "") + (":" + group if group else "")
        steps.append(f'chown {q(spec)} "$tmp"')
    else:
        steps.append('if [ -e "$d" ]; then chown "$(stat -c %u:%g "$d")" "$tmp" 2>/dev/null || true; fi')
    steps += ['mv -f "$tmp" "$d"', "trap - EXIT"]
    return "\n".join(steps)


def put_via_shell(
    transport,
    data: bytes,
    dest: str,
    *,
    mode: str | None = None,
    owner: str | None = None,
    group: str | None = None,
    become: BecomeSpec | None = None,
) -> None:
    """Write `data` to `dest` on `transport`'s host atomically through `sh` on stdin."""
    if isinstance(mode, int):
        mode = format(mode, "04o")
    script = atomic_write_script(dest, hashlib.sha256(data).hexdigest(), mode, owner, group)
    result = transport.run(script, become=become, stdin=data)
    if result.rc != 0:
        raise TransportError(f"writing {dest} failed (rc={result.rc}): {result.stderr.strip()}")
