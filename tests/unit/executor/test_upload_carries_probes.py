"""A small upload is one script in a probe batch that also carries the next probes (prober.py `put`), run for
real by /bin/sh (and sudo) through the local transport, with uploads costing round trips as over SSH."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hostprep.errors import TransportError
from hostprep.executor.probebatch import ProbeRequest
from hostprep.executor.prober import PIGGYBACK_TASKS, ProbingTransport
from hostprep.modules.base import Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.copy import CopyModule
from hostprep.transport.base import BecomeSpec
from tests.unit.executor.test_probe_batch import Counting


class Uploading(Counting):
    """The local transport with SSH's rule: an upload of up to `inline_put_max` bytes may be written by a script."""

    inline_put_max = 16 * 1024

    def __init__(self) -> None:
        super().__init__()
        self.puts: list[str] = []

    def put(self, data, dest, **kw):  # noqa: ANN001, ANN003, ANN201
        self.puts.append(dest)
        self.round_trips += 2  # as SSH's: the SFTP write, then the finishing script
        return super().put(data, dest, **kw)


def test_an_upload_and_the_next_probes_share_one_round_trip_and_see_the_file(tmp_path: Path) -> None:
    inner = Uploading()
    prober = ProbingTransport(inner)
    dest = tmp_path / "docker-ce.repo"
    read = f"cat {dest} 2>/dev/null || echo absent; stat -c %a {dest} 2>/dev/null"
    asked: list[int | None] = []

    def ahead(limit: int | None = None) -> list[ProbeRequest]:
        asked.append(limit)
        return [ProbeRequest(read)]

    prober.lookahead = ahead
    assert prober.probe(read).stdout == "absent\n" and inner.round_trips == 1
    prober.put(b"[one]\nenabled = 1\n", str(dest), mode="0640")
    assert inner.round_trips == 2 and inner.puts == [] and asked[-1] == PIGGYBACK_TASKS
    assert dest.read_bytes() == b"[one]\nenabled = 1\n" and oct(dest.stat().st_mode & 0o7777) == "0o640"
    # the carried answer describes the host the upload left, and costs no round trip
    assert prober.probe(read).stdout == "[one]\nenabled = 1\n640\n" and inner.round_trips == 2
    prober.put(b"[two]\n", str(dest))  # no mode: the old file's is kept, as the SFTP upload keeps it
    assert prober.probe(read).stdout == "[two]\n640\n" and inner.round_trips == 3
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".hostprep-")]
    prober.put(b"", str(dest))  # an empty file is written too
    assert dest.read_bytes() == b"" and inner.round_trips == 4


def test_a_large_upload_goes_the_inner_way_and_carries_nothing(tmp_path: Path) -> None:
    inner = Uploading()
    prober = ProbingTransport(inner)
    prober.lookahead = lambda limit=None: [ProbeRequest("echo ahead")]
    big = os.urandom(Uploading.inline_put_max + 1)
    prober.put(big, str(tmp_path / "big"))
    assert (tmp_path / "big").read_bytes() == big and inner.puts == [str(tmp_path / "big")]
    assert not prober.cached("echo ahead")  # nothing was carried: the next probe asks
    assert inner.round_trips == 2


def test_a_failed_upload_fails_once_and_leaves_nothing(tmp_path: Path) -> None:
    inner = Uploading()
    prober = ProbingTransport(inner)
    prober.lookahead = lambda limit=None: [ProbeRequest("true")]
    with pytest.raises(TransportError, match="writing .*missing/f on h failed"):
        prober.put(b"x", str(tmp_path / "missing" / "f"))
    assert inner.round_trips == 1  # the script ran (and failed): it is not run again alone
    assert os.listdir(tmp_path) == []


def test_a_refused_sudo_runs_the_upload_alone_for_the_real_error_and_writes_nothing(tmp_path: Path) -> None:
    assert os.geteuid() == 0, "this test needs root (the suite runs as root: scripts/test.sh)"
    inner = Uploading()
    prober = ProbingTransport(inner)
    prober.lookahead = lambda limit=None: [ProbeRequest("true")]
    ghost = BecomeSpec(enabled=True, user="hostprep-no-such-user")
    with pytest.raises(TransportError, match="writing"):
        prober.put(b"x", str(tmp_path / "never"), become=ghost)
    assert not (tmp_path / "never").exists()
    # the batch, whose segment never started, then the script alone (sudo refused again): never a third
    assert len(inner.commands) == 2 and inner.commands[1].startswith("set -e")
    assert os.listdir(tmp_path) == []


def test_a_copy_to_a_new_file_costs_the_probe_and_one_upload_trip_with_its_closing_stat(tmp_path: Path) -> None:
    """copy/template end an upload with a read-only stat for the result: the upload carries it (was 3 trips)."""
    inner = Uploading()
    prober = ProbingTransport(inner)
    prober.lookahead = lambda limit=None: []
    module = CopyModule()
    dest = tmp_path / "daemon.json"
    args = module.validate({"content": '{"live-restore": true}\n', "dest": str(dest), "mode": "0644"})
    result = module.run(args, TaskContext(transport=prober, host="h"))
    assert result["changed"] and dest.read_text() == '{"live-restore": true}\n'
    assert result["mode"] == "0644" and result["size"] == len('{"live-restore": true}\n')
    assert inner.round_trips == 2, inner.commands
    again = module.run(args, TaskContext(transport=prober, host="h"))
    assert not again["changed"]


class _Stamp(Module):
    """A module whose finish reads the host after its change (as user's reads the account it changed)."""

    name = "stamp"

    def probe(self, args: dict) -> str:
        return f"cat {args['path']} 2>/dev/null || echo absent"

    def plan(self, args: dict, probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        same = probe is not None and probe.stdout == "stamped\n"
        return Plan(not same, [] if same else [Command(f"echo stamped > {args['path']}")])

    def reads_after(self, args: dict) -> list[str]:
        return [f"wc -c < {args['path']}"]

    def finish(self, args: dict, plan: Plan, outputs: list, ctx: TaskContext) -> dict:
        return {"size": ctx.probe(f"wc -c < {args['path']}").stdout.strip()} if outputs else {}


def test_what_finish_reads_after_the_change_comes_with_the_change(tmp_path: Path) -> None:
    inner = Uploading()
    prober = ProbingTransport(inner)
    prober.lookahead = lambda limit=None: []
    args = {"path": str(tmp_path / "s")}
    result = _Stamp().run(args, TaskContext(transport=prober, host="h"))
    assert result == {"size": "8", "changed": True}  # read after the change: the file it wrote
    assert inner.round_trips == 2, inner.commands  # the probe, then the change with the read (was 3)
    prober.run("true")  # a later change carries no stale read
    assert len(inner.commands) == 3 and "wc -c" not in inner.commands[-1]
