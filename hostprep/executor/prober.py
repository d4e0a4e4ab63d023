"""The fast path: answer a task's probe from one batched round trip made for the tasks ahead.

`ProbingTransport` wraps a host's transport. Modules ask it for probes (`probe`); when the
answer is not cached it runs one batch: the probe asked for plus the probes of the tasks ahead
that the executor can already work out (`lookahead`). Every later probe that matches exactly
(same snippet, user and environment) is answered from that batch without touching the host.

Correctness rests on one rule: the cache only describes the host while nothing has changed it.
Anything that is not a probe (a command, an upload) may change the host, so it empties the
cache; the next probe then runs a fresh batch from that task on ("re-probing what follows").
Reads (`get`) keep it. A change command, and a small upload (written by a script, `inline_put_max`),
also carries the probes of the task running and the next one (`PIGGYBACK_TASKS`) in its round trip:
they run after it, so their answers describe the host as the change left it, and they are kept only
while nothing else changes it. A lookahead that guessed
wrong (a `when` that depended on a result not known yet, a variable set later) costs nothing but a
wasted probe: a probe is read-only and a task only ever uses an answer to the exact snippet it asks for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hostprep.errors import TransportError
from hostprep.executor.probebatch import (
    MAX_SCRIPT,
    ProbeKey,
    ProbeRequest,
    build_batch,
    parse_batch,
    probe_key,
    split_batches,
)
from hostprep.transport.base import BecomeSpec, RunResult, Transport
from hostprep.transport.remote_put import inline_write_script

Lookahead = Callable[..., list[ProbeRequest]]
# After a change the host is probably converging task after task: go on step by step (guess only
# this many tasks ahead: probes can be costly, e.g. dnf), and widen the guess again while batches are used up
# without any change.
WINDOW_AFTER_CHANGE = 1
WINDOW_GROWTH = 4
# A change command carries the probes of this many tasks (the running one, the next) in its round trip.
PIGGYBACK_TASKS = 2


class ProbingTransport:
    """A host transport plus a cache of probe answers that any change to the host throws away."""

    carries_reads = True  # put(then=...): an upload carries what the task reads right after it

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.name = inner.name
        self.lookahead: Lookahead | None = None
        self.checks_ahead: Lookahead | None = None
        self._cache: dict[ProbeKey, RunResult] = {}
        self._then: list[ProbeRequest] = []  # carry_next
        self._checks: dict[ProbeKey, RunResult] = {}
        self.window: int | None = None  # how many tasks ahead to guess; None = all
        self._changed = False  # something but a probe ran since the last batch
        self.batches = 0
        self.piggybacked = 0  # probes carried by change commands
        self.hits = 0
        self.misses = 0
        # where the host's time goes (the --json summary's profile): seconds waiting for probe batches, for
        # change commands (with the probes they carry) and for uploads, and how many of each
        self.meter = {"probe_s": 0.0, "probe_trips": 0, "change_s": 0.0, "changes": 0, "upload_s": 0.0,
                      "uploads": 0, "check_s": 0.0, "checks": 0}

    def _metered(self, kind: str, started: float, count: str) -> None:
        self.meter[kind] += time.monotonic() - started
        self.meter[count] += 1

    @property
    def round_trips(self) -> int:
        return self.inner.round_trips

    def expect_changes(self) -> None:
        """Start step by step (a guess of one task ahead, widening while nothing changes)."""
        self._changed = True

    # -- anything but a probe may change the host --------------------------------------
    def invalidate(self) -> None:
        self._cache.clear()
        self._checks.clear()

    def carry_next(self, reads: list[tuple[str, BecomeSpec | None]]) -> None:
        """What the task reads right after its next command: that command's round trip carries it (once)."""
        self._then = [ProbeRequest(cmd, spec if spec is not None and spec.enabled else None) for cmd, spec in reads]

    def run(self, command: str, *, become: BecomeSpec | None = None, env: dict[str, str] | None = None,
            stdin: bytes | None = None, timeout: float | None = None) -> RunResult:
        self.invalidate()
        self._changed = True
        then, self._then = self._then, []
        started = time.monotonic()
        try:
            if stdin is None and timeout is None:
                done = self._run_with_probes(command, become, env, then=then)
                if done is not None:
                    return done
            return self.inner.run(command, become=become, env=env, stdin=stdin, timeout=timeout)
        finally:
            self._metered("change_s", started, "changes")

    def _run_with_probes(self, command: str, become: BecomeSpec | None, env: dict[str, str] | None,
                         then: list[ProbeRequest] | None = None) -> RunResult | None:
        """The change, then the probes of the running and the next task, in one round trip (None: not done).

        The change is a request of a probe batch (same user, environment and framing as a probe), after a
        no-op request in its segment that shows the segment started; the probes after it are cached as
        answers for the host it leaves. When the segment never started (sudo refused) neither frame is
        there and None lets the caller run the change alone, which reports the real error; once the segment
        started, the change is never run a second time.
        """
        ahead: list[ProbeRequest] = list(then or [])
        if self.lookahead is not None:
            try:
                ahead += self.lookahead(PIGGYBACK_TASKS)
            except Exception:  # noqa: BLE001 - a failed guess must never fail the task
                pass
        change = ProbeRequest(command, become, env)
        seen = {change.key}
        ahead = [r for r in ahead if r.key not in seen and not seen.add(r.key)]  # type: ignore[func-returns-value]
        if not ahead:
            return None
        batch = [ProbeRequest(":", become), change, *ahead]
        script, stdin = build_batch(batch)
        if len(script) > MAX_SCRIPT:
            return None
        self.batches += 1
        self.piggybacked += len(ahead)
        out = self.inner.run(script, stdin=stdin or None)
        answers = parse_batch(out.stdout, len(batch))
        if 1 not in answers:
            if 0 not in answers:
                return None  # the segment never started: the change did not run
            return RunResult(out.rc or 1, "", out.stderr or "the change's output was lost")
        self._cache.update({batch[i].key: res for i, res in answers.items() if i > 1})
        return answers[1]

    def put(self, data: bytes, dest: str, *, mode: str | None = None, owner: str | None = None,
            group: str | None = None, become: BecomeSpec | None = None,
            then: list[tuple[str, BecomeSpec | None]] | None = None) -> None:
        """An upload; a small one (up to the inner transport's `inline_put_max` bytes) is one request of a
        batch that carries the probes of the running and the next task, and `then` (what the task reads
        right after it), as a change command does.

        Without an inline upload (a large file, a transport whose uploads cost no round trip) the inner
        transport's own put is used and nothing is carried.
        """
        self.invalidate()
        self._changed = True
        self._then = []
        started = time.monotonic()
        try:
            limit = getattr(self.inner, "inline_put_max", 0)
            if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) > limit:
                self.inner.put(data, dest, mode=mode, owner=owner, group=group, become=become)
                return
            needs = getattr(self.inner, "needs_become_for_files", None)
            enabled = become is not None and become.enabled
            who = become if (needs(become) if needs is not None else enabled) else None
            script = inline_write_script(data, dest, mode, owner, group)
            reads = [ProbeRequest(cmd, spec if spec is not None and spec.enabled else None) for cmd, spec in then or []]
            res = self._run_with_probes(script, who, None, then=reads)
            if res is None:
                res = self.inner.run(script, become=who)
            if who is not None and res.started is False:
                raise TransportError(f"writing {dest} on {self.name} failed: sudo to {who.user or 'root'} "
                                     f"did not start ({res.stderr.strip()})")
            if res.rc != 0:
                raise TransportError(f"writing {dest} on {self.name} failed (rc={res.rc}): {res.stderr.strip()}")
        finally:
            self._metered("upload_s", started, "uploads")

    def get(self, path: str, *, become: BecomeSpec | None = None) -> bytes:
        return self.inner.get(path, become=become)

    def close(self) -> None:
        self.invalidate()
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    # -- probes ---------------------------------------------------------------------------
    def cached(self, cmd: str, become: BecomeSpec | None = None, env: dict[str, str] | None = None) -> bool:
        return probe_key(cmd, become, env) in self._cache

    def probe(self, cmd: str, *, become: BecomeSpec | None = None, env: dict[str, str] | None = None) -> RunResult:
        """The answer to a read-only snippet: from the cache, or from a new batch with the tasks ahead."""
        key = probe_key(cmd, become, env)
        hit = self._cache.get(key)
        if hit is not None:
            self.hits += 1
            return hit
        self.misses += 1
        wanted = ProbeRequest(cmd, become, env)
        ahead: list[ProbeRequest] = []
        if self._changed:
            self.window = WINDOW_AFTER_CHANGE
        elif self.window is not None:
            self.window *= WINDOW_GROWTH
        self._changed = False
        if self.lookahead is not None:
            try:
                ahead = self.lookahead(self.window)
            except Exception:  # noqa: BLE001 - a failed guess must never fail the task; it only costs speed
                ahead = []
        started = time.monotonic()
        try:
            self.prefetch([wanted, *ahead])
            hit = self._cache.get(key)
            if hit is not None:
                return hit
            # not answered by the batch (e.g. sudo refused): run it alone, which reports the real error
            return self.inner.run(cmd, become=become, env=env)
        finally:
            self._metered("probe_s", started, "probe_trips")

    # -- read-only checks (command + changed_when: false) --------------------------------
    def check(self, cmd: str, *, become: BecomeSpec | None = None, env: dict[str, str] | None = None) -> RunResult:
        """Run a declared read-only check at its turn, with the checks right after it in the same round trip.

        The checks run in order and stop at the first non-zero exit; an answer is used once, by
        the task it was run for. A check is trusted not to change the host, so the probes answered
        before it stay valid for the tasks after it (a play whose roles each end with checks, such
        as site.yml's docker and runtime roles, then costs one round trip for all probes plus one
        per group of checks).
        """
        key = probe_key(cmd, become, env)
        hit = self._checks.pop(key, None)
        if hit is not None:
            self.hits += 1
            return hit
        self._checks.clear()
        wanted = ProbeRequest(cmd, become, env)
        ahead: list[ProbeRequest] = []
        if self.checks_ahead is not None:
            try:
                ahead = self.checks_ahead()
            except Exception:  # noqa: BLE001 - what cannot be worked out runs at its turn
                ahead = []
        batch = [wanted, *ahead]
        started = time.monotonic()
        try:
            return self._run_checks(batch, cmd, become, env)
        finally:
            self._metered("check_s", started, "checks")

    def _run_checks(self, batch: list[ProbeRequest], cmd: str, become: BecomeSpec | None,
                    env: dict[str, str] | None) -> RunResult:
        if len(batch) == 1:
            return self.inner.run(cmd, become=become, env=env)
        script, stdin = build_batch(batch, stop_on_failure=True)
        if len(script) > MAX_SCRIPT:
            return self.inner.run(cmd, become=become, env=env)
        self.batches += 1
        out = self.inner.run(script, stdin=stdin or None)
        answers = parse_batch(out.stdout, len(batch))
        for index, res in answers.items():
            if index:
                self._checks.setdefault(batch[index].key, res)
        if 0 in answers:
            return answers[0]
        return self.inner.run(cmd, become=become, env=env)

    def prefetch(self, requests: list[ProbeRequest]) -> dict[ProbeKey, RunResult]:
        """Run the requests not cached yet in as few round trips as the script size allows."""
        todo: list[ProbeRequest] = []
        seen: set[ProbeKey] = set()
        for req in requests:
            key = req.key
            if key not in self._cache and key not in seen:
                seen.add(key)
                todo.append(req)
        answered: dict[ProbeKey, RunResult] = {}
        if len(todo) == 1:  # a batch of one is just the command
            req = todo[0]
            answered[req.key] = self.inner.run(req.cmd, become=req.become, env=req.env)
            todo = []
        for batch in split_batches(todo):
            script, stdin = build_batch(batch)
            self.batches += 1
            out = self.inner.run(script, stdin=stdin or None)
            for index, res in parse_batch(out.stdout, len(batch)).items():
                answered[batch[index].key] = res
        self._cache.update(answered)
        return answered
