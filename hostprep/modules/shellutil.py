"""Small helpers modules share for building POSIX shell probes and commands."""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Iterable

q = shlex.quote


def join(words: Iterable[str]) -> str:
    return " ".join(q(str(w)) for w in words)


def marker(name: str) -> str:
    """A line that separates sections of a probe's output."""
    return f"@@hostprep:{name}@@"


def sections(stdout: str) -> dict[str, str]:
    """Split probe output at marker lines into {name: text}."""
    out: dict[str, list[str]] = {}
    current = None
    for line in stdout.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("@@hostprep:") and stripped.endswith("@@"):
            current = stripped[len("@@hostprep:"):-2]
            out[current] = []
        elif current is not None:
            out[current].append(line)
    return {k: "".join(v) for k, v in out.items()}


# stat of a path: kind, mode, owner, group, size, sha1 (regular files), link target
STAT_SNIPPET = r'''p={path}
if [ -L "$p" ]; then k=link; elif [ -d "$p" ]; then k=directory; elif [ -f "$p" ]; then k=file;
elif [ -e "$p" ]; then k=other; else k=absent; fi
echo "kind=$k"
if [ "$k" != absent ]; then
  stat -c 'mode=%a
uid=%u
gid=%g
owner=%U
group=%G
size=%s
mtime=%Y
atime=%X
inode=%i
dev=%d
nlink=%h' "$p"
  [ "$k" = link ] && echo "target=$(readlink "$p")"
  if [ "$k" = file ] && [ {checksum} = yes ]; then echo "sha1=$(sha1sum < "$p" | cut -d' ' -f1)"; fi
fi'''


def stat_snippet(path: str, checksum: bool = True) -> str:
    return STAT_SNIPPET.replace("{path}", q(path)).replace("{checksum}", "yes" if checksum else "no")


def parse_kv_lines(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v
    return out


# Set by a probe batch (hostprep.executor.probebatch): a private directory that lives as long as
# the batch's segment, where `once_per_batch` keeps what a costly read printed.
MEMO_VAR = "_hp_memo"


def once_per_batch(cmd: str) -> str:
    """Shell that prints what `cmd` prints, running it at most once per probe batch.

    Several tasks' probes often need the same costly read (dnf's list of available updates costs
    a dnf start, ~0.2 s of host CPU); in one batch they share a single run. `cmd` must only read
    the host and must print everything the caller needs (its exit status too, if that matters):
    a replay gives back stdout only. Outside a batch (a probe run on its own) it just runs.
    """
    key = hashlib.sha256(cmd.encode()).hexdigest()[:20]
    memo = f'"${MEMO_VAR}/{key}"'
    return "\n".join([
        f'if [ -n "${{{MEMO_VAR}:-}}" ]; then',
        f'if [ ! -f {memo} ]; then {{',
        cmd,
        f'}} >{memo}.t; mv {memo}.t {memo}; fi',
        f'cat {memo}',
        'else',
        cmd,
        'fi',
    ])
