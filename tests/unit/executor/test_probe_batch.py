"""The batched probe script, run for real by /bin/sh (and sudo) through the local transport."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

from hostprep.executor.probebatch import MAX_SCRIPT, ProbeRequest, build_batch, parse_batch, split_batches
from hostprep.executor.prober import ProbingTransport
from hostprep.modules.shellutil import once_per_batch
from hostprep.transport.base import BecomeSpec
from hostprep.transport.local import LocalTransport


def run_batch(requests: list[ProbeRequest]) -> dict:
    script, stdin = build_batch(requests)
    out = LocalTransport().run(script, stdin=stdin or None)
    return parse_batch(out.stdout, len(requests))


def test_each_probe_keeps_its_own_stdout_stderr_and_rc() -> None:
    reqs = [
        ProbeRequest("echo one; echo err >&2; exit 3"),
        ProbeRequest("printf 'no newline'"),
        ProbeRequest("printf '\\001\\377binary\\n@@HPE\\n@@HPX\\n'"),  # frame markers inside output
        ProbeRequest("cat"),  # must not see the batch's stdin (passwords): reads /dev/null
        ProbeRequest("exit 0"),
        ProbeRequest('echo "$FOO"', env={"FOO": "b a r"}),
        ProbeRequest("case x in x) echo case-ok;; esac"),
    ]
    res = run_batch(reqs)
    assert sorted(res) == list(range(len(reqs)))
    assert (res[0].rc, res[0].stdout, res[0].stderr) == (3, "one\n", "err\n")
    assert res[1].stdout == "no newline"
    assert res[2].stdout == "\x01\ufffdbinary\n@@HPE\n@@HPX\n"
    assert res[3].stdout == "" and res[3].rc == 0
    assert (res[4].rc, res[4].stdout) == (0, "")
    assert res[5].stdout == "b a r\n"
    assert res[6].stdout == "case-ok\n"


def test_probes_are_isolated_from_each_other() -> None:
    res = run_batch([ProbeRequest("cd /; X=1; exit 5"), ProbeRequest('pwd; echo "x=${X:-unset}"')])
    assert res[0].rc == 5
    assert res[1].stdout == f"{os.getcwd()}\nx=unset\n"


def test_segments_run_as_their_become_user() -> None:
    assert os.geteuid() == 0, "this test needs root (the suite runs as root: scripts/test.sh)"
    assert shutil.which("sudo"), "sudo is needed (ci/apt/base.txt installs it)"
    nobody = BecomeSpec(enabled=True, user="nobody")
    reqs = [ProbeRequest("id -un"), ProbeRequest("id -un", nobody), ProbeRequest("echo $HOME", nobody),
            ProbeRequest("id -un")]
    res = run_batch(reqs)
    assert [res[i].stdout.strip() for i in range(4)] == ["root", "nobody", pwd.getpwnam("nobody").pw_dir, "root"]


def test_a_read_shared_by_probes_runs_once_per_batch_and_once_per_lone_probe() -> None:
    fd, name = tempfile.mkstemp(prefix="hostprep-memo-test.")  # in /tmp: the nobody segment writes it too
    os.close(fd)
    count = Path(name)
    try:
        _check_once_per_batch(count)
    finally:
        count.unlink()


def _check_once_per_batch(count: Path) -> None:
    costly = f"echo run >>{count}; echo listing; false; echo rc=$?"
    shared = once_per_batch(costly)
    reqs = [ProbeRequest(f"echo A; {shared}"), ProbeRequest("echo between"), ProbeRequest(f"echo B; {shared}"),
            ProbeRequest(f"echo C; {shared}", BecomeSpec(enabled=True, user="nobody"))]
    count.write_text("")
    count.chmod(0o666)
    res = run_batch(reqs)
    assert res[0].stdout == "A\nlisting\nrc=1\n"
    assert res[2].stdout == "B\nlisting\nrc=1\n"  # the replay, exit status line included
    assert res[3].stdout == "C\nlisting\nrc=1\n"  # another user's segment runs its own
    assert count.read_text() == "run\nrun\n"
    lone = LocalTransport().run(f"echo D; {shared}")  # outside a batch it simply runs
    assert lone.stdout == "D\nlisting\nrc=1\n" and count.read_text() == "run\nrun\nrun\n"


def test_a_missing_frame_is_left_out_not_invented() -> None:
    script, _ = build_batch([ProbeRequest("echo a"), ProbeRequest("echo b")])
    out = LocalTransport().run(script).stdout
    cut = out[: out.index("@@HPF 1")]
    assert list(parse_batch(cut, 2)) == [0]
    assert parse_batch("garbage\n@@HPF x y\n", 2) == {}


def test_big_batches_are_split_under_the_argument_limit() -> None:
    reqs = [ProbeRequest("echo " + "x" * 4000 + f" {i}") for i in range(60)]
    batches = split_batches(reqs)
    assert len(batches) > 1
    assert sum(len(b) for b in batches) == 60
    for batch in batches:
        assert len(build_batch(batch)[0]) < 128 * 1024
        assert len(build_batch(batch)[0]) <= MAX_SCRIPT + 8192


class Counting(LocalTransport):
    """The real local transport; counts what it is asked to do."""

    def __init__(self) -> None:
        super().__init__("h")
        self.commands: list[str] = []

    def run(self, command: str, **kw):  # noqa: ANN003, ANN201
        self.commands.append(command)
        return super().run(command, **kw)


def test_prober_answers_from_one_batch_until_the_host_changes(tmp_path: Path) -> None:
    inner = Counting()
    prober = ProbingTransport(inner)
    marker = tmp_path / "m"
    probes = [f"test -e {marker} && echo yes || echo no", "echo two", "echo three"]
    prober.lookahead = lambda limit=None: [ProbeRequest(p) for p in probes[1:]]
    assert prober.probe(probes[0]).stdout == "no\n"
    assert inner.round_trips == 1
    assert prober.probe("echo two").stdout == "two\n"
    assert prober.probe("echo three").stdout == "three\n"
    assert prober.probe(probes[0]).stdout == "no\n"
    assert inner.round_trips == 1 and prober.hits == 3
    # a change: the cached answer would now be wrong, so it must be asked again
    prober.run(f"touch {marker}")
    assert prober.probe(probes[0]).stdout == "yes\n"
    assert inner.round_trips == 3
    prober.put(b"x", str(tmp_path / "f"))
    prober.lookahead = None
    assert prober.probe("echo two").stdout == "two\n"
    assert inner.round_trips == 4


def test_a_failing_lookahead_only_costs_speed() -> None:
    prober = ProbingTransport(Counting())

    def broken(limit: int | None = None) -> list[ProbeRequest]:
        raise RuntimeError("cannot guess")

    prober.lookahead = broken
    assert prober.probe("echo fine").stdout == "fine\n"


def test_checks_share_a_round_trip_in_order_and_stop_at_the_first_failure(tmp_path: Path) -> None:
    inner = Counting()
    prober = ProbingTransport(inner)
    log = tmp_path / "log"
    checks = [f"echo {n} >> {log}; exit {rc}" for n, rc in (("one", 0), ("two", 0), ("three", 4), ("four", 0))]
    prober.checks_ahead = lambda: [ProbeRequest(c) for c in checks[1:]]
    assert prober.check(checks[0]).rc == 0
    assert log.read_text() == "one\ntwo\nthree\n"  # in order, and nothing after the failing one
    assert inner.round_trips == 1
    assert prober.check(checks[1]).rc == 0
    assert prober.check(checks[2]).rc == 4
    assert inner.round_trips == 1
    prober.checks_ahead = None
    assert prober.check(checks[3]).rc == 0  # not run ahead: runs now, once
    assert log.read_text() == "one\ntwo\nthree\nfour\n"
    assert inner.round_trips == 2
    # an answer is used once: the same check again runs again
    assert prober.check(checks[0]).rc == 0
    assert log.read_text().count("one") == 2


def test_after_a_change_the_guess_is_short_and_widens_while_nothing_changes(tmp_path: Path) -> None:
    prober = ProbingTransport(Counting())
    asked: list[int | None] = []

    def ahead(limit: int | None = None) -> list[ProbeRequest]:
        asked.append(limit)
        return []

    prober.lookahead = ahead
    prober.probe("echo 1")  # converged so far: guess everything
    prober.run("true")  # a change
    prober.probe("echo 2")
    prober.probe("echo 3")  # nothing changed since the last batch: wider
    prober.probe("echo 4")
    prober.put(b"x", str(tmp_path / "f"))
    prober.probe("echo 5")
    assert asked == [None, 2, 1, 4, 16, 1]  # the change asked for the probes it carries (2 tasks)
