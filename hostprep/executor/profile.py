"""Where a host's run spends its time, task by task: the `profile` of each host in the --json summary.

For every task that ran on a host: its status, wall seconds, round trips, and how the fast path's transport
(prober.py) spent them: probe batches (`probe_s`, `probe_trips`), change commands (`change_s`, `changes`;
a change's round trip also carries the next probes, `piggybacked`), uploads and read-only checks, and the
probes answered without a round trip (`hits`). A package task's `change_s` is its package manager's
transaction; its `probe_s` what deciding cost. `--no-fast-path` runs have round trips and seconds only.
"""

from __future__ import annotations

from typing import Any

from hostprep.executor.state import HostState

_COUNTERS = ("hits", "piggybacked", "batches")


def meter(transport: Any) -> dict[str, float]:
    """The transport's counters now (all zero before the host's transport is opened)."""
    if transport is None:
        return {}
    out: dict[str, float] = {"round_trips": getattr(transport, "round_trips", 0)}
    out.update(getattr(transport, "meter", None) or {})
    for name in _COUNTERS:
        value = getattr(transport, name, None)
        if isinstance(value, int):
            out[name] = value
    return out


def record_task(host: HostState, title: str, status: str, seconds: float, before: dict[str, float]) -> None:
    """Add one task's entry to the host's profile (counters: what changed since `before`)."""
    after = meter(host.transport)
    entry: dict[str, Any] = {"task": title, "status": status, "s": round(seconds, 3)}
    for key, value in after.items():
        delta = value - before.get(key, 0)
        if delta:
            entry[key] = round(delta, 3) if isinstance(delta, float) else delta
    entry.setdefault("round_trips", 0)
    host.stats.profile.setdefault("tasks", []).append(entry)
