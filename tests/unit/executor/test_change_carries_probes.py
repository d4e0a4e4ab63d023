"""A change command carries the probes of the running and the next task in its round trip (prober.py), run for
real by /bin/sh (and sudo) through the local transport."""

from __future__ import annotations

import os
from pathlib import Path

from hostprep.executor.probebatch import ProbeRequest
from hostprep.executor.prober import PIGGYBACK_TASKS, ProbingTransport
from hostprep.transport.base import BecomeSpec
from tests.unit.executor.test_probe_batch import Counting


def test_the_change_and_the_next_probes_share_one_round_trip_and_see_the_change(tmp_path: Path) -> None:
    inner = Counting()
    prober = ProbingTransport(inner)
    flag = tmp_path / "flag"
    read = f"cat {flag} 2>/dev/null || echo absent"
    asked: list[int | None] = []

    def ahead(limit: int | None = None) -> list[ProbeRequest]:
        asked.append(limit)
        return [ProbeRequest(read)]

    prober.lookahead = ahead
    res = prober.run(f"echo written > {flag}; echo out; echo err >&2; exit 3")
    assert (res.rc, res.stdout, res.stderr) == (3, "out\n", "err\n")  # the change's own result, framed apart
    assert inner.round_trips == 1 and asked == [PIGGYBACK_TASKS]
    assert prober.probe(read).stdout == "written\n"  # answered after the change, no new round trip
    assert inner.round_trips == 1
    prober.run(f"echo again > {flag}")  # another change: the carried answer is gone and carried anew
    assert prober.probe(read).stdout == "again\n" and inner.round_trips == 2
    prober.put(b"x", str(tmp_path / "other"))  # an upload carries nothing: the next probe asks
    before = inner.round_trips
    assert prober.probe(read).stdout == "again\n" and inner.round_trips > before


def test_a_change_runs_once_even_when_nothing_is_carried_or_the_guess_fails(tmp_path: Path) -> None:
    inner = Counting()
    prober = ProbingTransport(inner)
    log = tmp_path / "log"
    prober.lookahead = lambda limit=None: []
    prober.run(f"echo 1 >> {log}")

    def broken(limit: int | None = None) -> list[ProbeRequest]:
        raise RuntimeError("cannot guess")

    prober.lookahead = broken
    prober.run(f"echo 2 >> {log}")
    prober.lookahead = lambda limit=None: [ProbeRequest("true")]
    assert prober.run(f"cat; echo 3 >> {log}", stdin=b"in").stdout == "in"  # stdin: run alone, as given
    assert log.read_text() == "1\n2\n3\n"
    assert inner.commands[:2] == [f"echo 1 >> {log}", f"echo 2 >> {log}"]


def test_a_refused_become_runs_the_change_alone_for_the_real_error(tmp_path: Path) -> None:
    assert os.geteuid() == 0, "this test needs root (the suite runs as root: scripts/test.sh)"
    inner = Counting()
    prober = ProbingTransport(inner)
    prober.lookahead = lambda limit=None: [ProbeRequest("true")]
    # a user sudo cannot become: the batch's segment never starts, so the change has no frame
    ghost = BecomeSpec(enabled=True, user="hostprep-no-such-user")
    res = prober.run(f"touch {tmp_path / 'never'}", become=ghost)
    assert res.rc != 0 and not (tmp_path / "never").exists()
    assert len(inner.commands) == 2 and inner.commands[1] == f"touch {tmp_path / 'never'}"  # then alone
