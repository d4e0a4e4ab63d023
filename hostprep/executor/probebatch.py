"""Many read-only probes in one remote shell script: one round trip instead of one per task.

A probe is a shell snippet that only reads the host (the module contract). The batch runs the
snippets in order, each in its own subshell with stdin from /dev/null, grouped into segments
by who runs them (the login user, or sudo to a become user), and prints for each one a frame:

    @@HPF <index> <rc>      then base64(stdout), @@HPE, base64(stderr), @@HPX

base64 keeps arbitrary bytes intact through the text transport, and the frames make the
parse independent of what the probes print. A probe whose frame is missing (its segment's
sudo was refused, the script was cut short) is simply not answered: the caller runs it on its
own, which reports the real error the usual way.

sudo passwords go on the script's standard input, one line per segment that needs one, never
on a command line; each segment's shell moves its own stdin to /dev/null first, so no probe
can read a password.

Each segment also gives its probes a private directory in `$_hp_memo` where a costly read that
several probes share (`shellutil.once_per_batch`, e.g. dnf's list of updates) runs once.
"""

from __future__ import annotations

import base64
import binascii
import shlex
from dataclasses import dataclass, field

from hostprep.modules.shellutil import MEMO_VAR
from hostprep.transport.base import BecomeSpec, RunResult
from hostprep.transport.become import batch_line

FRAME = "@@HPF"
# sshd hands the command to the login shell as one argument; Linux caps one argument at 128 KiB.
MAX_SCRIPT = 96 * 1024


@dataclass(frozen=True)
class ProbeKey:
    """What makes two probes the same: the snippet, who runs it and its environment."""

    cmd: str
    user: str | None = None  # the become user, None for the login user
    env: tuple[tuple[str, str], ...] = ()


@dataclass
class ProbeRequest:
    """A probe to run: its key plus how to become (the password is not part of the key)."""

    cmd: str
    become: BecomeSpec | None = None
    env: dict[str, str] | None = field(default=None)

    @property
    def key(self) -> ProbeKey:
        return probe_key(self.cmd, self.become, self.env)


def probe_key(cmd: str, become: BecomeSpec | None, env: dict[str, str] | None) -> ProbeKey:
    user = (become.user or "root") if become is not None and become.enabled else None
    return ProbeKey(cmd, user, tuple(sorted((str(k), str(v)) for k, v in (env or {}).items())))


def _segments(requests: list[ProbeRequest]) -> list[tuple[BecomeSpec | None, list[int]]]:
    """Consecutive requests run by the same user (and sudo flags) share one segment."""
    out: list[tuple[BecomeSpec | None, list[int]]] = []
    last: tuple | None = None
    for index, req in enumerate(requests):
        become = req.become if req.become is not None and req.become.enabled else None
        ident = None if become is None else (become.user, become.method, become.flags)
        if out and ident == last:
            out[-1][1].append(index)
        else:
            out.append((become, [index]))
            last = ident
    return out


def _segment_body(requests: list[ProbeRequest], indexes: list[int], stop_on_failure: bool = False) -> str:
    lines = ['exec </dev/null', 'd=$(mktemp -d 2>/dev/null || mktemp -d -t hostprep.XXXXXX) || exit 97',
             'trap \'rm -rf "$d"\' EXIT', f'mkdir "$d/m" && {MEMO_VAR}="$d/m"']
    for index in indexes:
        req = requests[index]
        env = ""
        if req.env:
            env = "export " + " ".join(f"{k}={shlex.quote(str(v))}" for k, v in req.env.items()) + "\n"
        lines.append(f'(\n{env}{req.cmd}\n) >"$d/o" 2>"$d/e"; r=$?')
        # an empty output needs no base64 run (`[` is the shell's own): most probes print nothing on stderr
        lines.append(f'printf \'{FRAME} {index} %s\\n\' "$r"; [ -s "$d/o" ] && base64 <"$d/o"; echo @@HPE; '
                     '[ -s "$d/e" ] && base64 <"$d/e"; echo @@HPX')
        if stop_on_failure:
            lines.append('[ "$r" = 0 ] || exit 3')
    return "\n".join(lines) + "\n"


def build_batch(requests: list[ProbeRequest], stop_on_failure: bool = False) -> tuple[str, bytes]:
    """The script (run as the login user) and the stdin it needs (sudo passwords).

    With `stop_on_failure` (read-only checks, which run in order) nothing runs after the first
    request that exits non-zero.
    """
    parts: list[str] = []
    stdin = b""
    for become, indexes in _segments(requests):
        inner = f"/bin/sh -c {shlex.quote(_segment_body(requests, indexes, stop_on_failure))}"
        if become is None:
            parts.append(inner)
            continue
        line = batch_line(become, inner)
        if line is None:  # needs a terminal (su with a password): it and what follows go unanswered
            break
        parts.append(line)
        if become.password is not None:
            stdin += become.password.encode() + b"\n"
    return ("\n" if not stop_on_failure else " || exit 0\n").join(parts) + "\n", stdin


def parse_batch(stdout: str, count: int) -> dict[int, RunResult]:
    """Frames from the batch's output, by request index (missing frames are left out)."""
    results: dict[int, RunResult] = {}
    lines = stdout.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith(FRAME + " "):
            i += 1
            continue
        try:
            _, idx_text, rc_text = line.split(" ")
            index, rc = int(idx_text), int(rc_text)
            end_out = lines.index("@@HPE", i + 1)
            end_err = lines.index("@@HPX", end_out + 1)
            out = base64.b64decode("".join(lines[i + 1:end_out]), validate=False)
            err = base64.b64decode("".join(lines[end_out + 1:end_err]), validate=False)
        except (ValueError, binascii.Error):
            i += 1
            continue
        if 0 <= index < count:
            results[index] = RunResult(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
        i = end_err + 1
    return results


def split_batches(requests: list[ProbeRequest]) -> list[list[ProbeRequest]]:
    """Keep every script under the size one command line may have."""
    batches: list[list[ProbeRequest]] = [[]]
    size = 0
    for req in requests:
        cost = len(req.cmd) + 200 + sum(len(k) + len(str(v)) + 4 for k, v in (req.env or {}).items())
        if batches[-1] and size + cost > MAX_SCRIPT:
            batches.append([])
            size = 0
        batches[-1].append(req)
        size += cost
    return [b for b in batches if b]
