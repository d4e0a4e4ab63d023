"""What a change carries (prober.py PIGGYBACK_TASKS) counts the tasks that will run: a task its `when` skips is
passed over, and at a flush_handlers the notified handlers' probes come next (also just past the tasks counted,
when only skipped tasks stand between). Through the real executor on an
`ansible_connection: local` host; statuses and end state as with --no-fast-path."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.executor.test_playbooks_local import apply, summary

BOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: change
      command: touch {d}/one
    - name: never
      file: {{path: "{d}/never", state: directory}}
      when: false
    - name: also never
      file: {{path: "{d}/never", state: directory}}
      when: false
    - name: after the skips
      file: {{path: "{d}/two", state: directory}}
      notify: make three
    - name: another change
      command: touch {d}/four
    - name: ok in between
      file: {{path: "{d}", state: directory}}
    - name: skipped in between
      file: {{path: "{d}/never", state: directory}}
      when: false
    - meta: flush_handlers
    - name: last
      file: {{path: "{d}/five", state: directory}}
  handlers:
    - name: make three
      file: {{path: "{d}/three", state: directory}}
"""


def _run(tmp: Path, out: Path, *extra: str) -> tuple[dict, list[tuple]]:
    proc = apply(tmp, BOOK.format(d=out), "--json", *extra, hosts="h1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    statuses = [(e.get("task"), e.get("status")) for e in events if e["event"] == "task_result"]
    return summary(proc)["h1"], statuses


def _trips(host: dict) -> dict[str, int]:
    return {t["task"]: t["round_trips"] for t in host["profile"]["tasks"]}


def test_a_change_carries_the_probes_of_the_next_task_that_runs_and_of_the_handlers_a_flush_runs(
        tmp_path: Path) -> None:
    fast_dir, slow_dir = tmp_path / "fast", tmp_path / "slow"
    fast_dir.mkdir()
    slow_dir.mkdir()
    (tmp_path / "f").mkdir()
    (tmp_path / "s").mkdir()
    fast, fast_statuses = _run(tmp_path / "f", fast_dir)
    slow, slow_statuses = _run(tmp_path / "s", slow_dir, "--no-fast-path")
    assert fast_statuses == slow_statuses
    assert ("make three", "changed") in fast_statuses and ("never", "skipped") in fast_statuses
    for d in (fast_dir, slow_dir):
        assert sorted(p.name for p in d.iterdir()) == ["five", "four", "one", "three", "two"]
        assert (d / "three").is_dir()
    trips = _trips(fast)
    # its probe came with "change" past the two skipped tasks: the mkdir is its only round trip
    assert trips["after the skips"] == 1, fast["profile"]
    # the handler's probe came with "another change": past the two tasks it carries (itself and the one that
    # is ok), a skipped task, then the flush; nothing in between changes the host, so its mkdir is its only trip
    assert trips["ok in between"] == 0 and trips["make three"] == 1, fast["profile"]
    assert fast["round_trips"] <= 6, fast["profile"]
