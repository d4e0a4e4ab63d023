"""Last run's facts per host, kept only to guess the next run's probes (never used as facts).

With them the executor can send the facts script and every probe of the play in the same
round trip. A stale or missing file only makes the guess worse. The environment (`env`) is
never written, since it may hold secrets; files are private to the user (0600).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_OMIT = ("env",)


def cache_dir() -> Path:
    base = os.environ.get("HOSTPREP_FACT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hostprep", "facts")
    return Path(base)


def _path(name: str, hostvars: Mapping[str, Any]) -> Path:
    ident = "\0".join(str(x) for x in (name, hostvars.get("ansible_host", name), hostvars.get("ansible_port", ""),
                                        hostvars.get("ansible_user", "")))
    digest = hashlib.sha256(ident.encode()).hexdigest()[:24]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:60]
    return cache_dir() / f"{safe}-{digest}.json"


def load_facts(name: str, hostvars: Mapping[str, Any]) -> dict[str, Any] | None:
    try:
        data = json.loads(_path(name, hostvars).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def save_facts(name: str, hostvars: Mapping[str, Any], facts: Mapping[str, Any]) -> None:
    """Write atomically (temp file, rename); a cache that cannot be written is no error."""
    path = _path(name, hostvars)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".facts-", dir=path.parent)
    except OSError:
        return
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump({k: v for k, v in facts.items() if k not in _OMIT}, handle, default=str)
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):
        try:
            os.unlink(tmp)
        except OSError:
            pass
