"""The fast path through the real executor on `ansible_connection: local` hosts.

A converged run must cost one round trip per host; a run where a task changes the host must
re-probe what follows (a later task sees what an earlier one did), and give the same results
as task-by-task probing (--no-fast-path).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.executor.test_playbooks_local import apply, summary

BOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - file: {{path: "{d}/{{{{ inventory_hostname }}}}", state: directory, mode: "0755"}}
    - copy: {{dest: "{d}/{{{{ inventory_hostname }}}}/a", content: "a\\n", mode: "0644", force: false}}
    - lineinfile: {{path: "{d}/{{{{ inventory_hostname }}}}/a", line: "b"}}
    - copy: {{dest: "{d}/{{{{ inventory_hostname }}}}/c", content: "c\\n"}}
    - stat: {{path: "{d}/{{{{ inventory_hostname }}}}/c"}}
      register: st
    - assert:
        that: [st.stat.exists]
    - file: {{path: "{d}/{{{{ inventory_hostname }}}}/sub/{{{{ item }}}}", state: directory}}
      loop: [x, y, z]
    - command: cat {d}/{{{{ inventory_hostname }}}}/a
      register: seen
      changed_when: false
    - command: cat {d}/{{{{ inventory_hostname }}}}/c
      register: seen_c
      changed_when: false
    - assert:
        that: ['seen.stdout == "a\\nb"', 'seen_c.stdout == "c"']
"""


def _run(tmp: Path, *extra: str) -> tuple[dict, list[dict]]:
    proc = apply(tmp, BOOK.format(d=tmp / "out"), "--json", *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return summary(proc), [e for e in events if e["event"] != "summary"]


def _statuses(events: list[dict]) -> list[tuple]:
    return sorted(repr((e.get("host"), e.get("task"), e.get("item"), e.get("status"))) for e in events)


def test_converged_run_costs_one_round_trip_and_changes_are_reprobed(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    first, events1 = _run(tmp_path)
    assert all(s["changed"] >= 5 for s in first.values()), first
    for host in ("h1", "h2"):
        assert (tmp_path / "out" / host / "c").read_text() == "c\n"
        assert sorted(p.name for p in (tmp_path / "out" / host / "sub").iterdir()) == ["x", "y", "z"]
    second, events2 = _run(tmp_path)
    assert all(s["changed"] == 0 and s["failed"] == 0 for s in second.values()), second
    # one round trip for every probe, one for the two read-only checks at the end (run at their turn)
    assert all(s["round_trips"] == 2 for s in second.values()), second
    slow, events3 = _run(tmp_path, "--no-fast-path")
    assert all(s["round_trips"] >= 9 for s in slow.values()), slow
    assert _statuses(events2) == _statuses(events3)
    timing = ("round_trips", "seconds", "profile")
    assert {k: {x: v for x, v in s.items() if x not in timing} for k, s in second.items()} \
        == {k: {x: v for x, v in s.items() if x not in timing} for k, s in slow.items()}


def test_a_change_in_the_middle_is_seen_by_the_tasks_after_it(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    _run(tmp_path)
    # undo one step on one host: only that step and what depends on it may change
    target = tmp_path / "out" / "h1" / "a"
    target.write_text("a\n")
    third, events = _run(tmp_path)
    changed = [(e["host"], e["task"]) for e in events if e.get("status") == "changed"]
    assert [h for h, _ in changed] == ["h1"], changed
    assert target.read_text() == "a\nb\n"
    assert third["h2"]["round_trips"] == 2
    assert third["h1"]["round_trips"] >= 3


def test_a_task_that_needs_an_earlier_result_costs_one_more_batch(tmp_path: Path) -> None:
    """What cannot be worked out ahead (args from a registered result) is probed when it runs."""
    book = BOOK.format(d=tmp_path / "out") + """    - copy:
        dest: "{d}/{{{{ inventory_hostname }}}}/copy-of-a"
        content: "{{{{ seen.stdout }}}}\\n"
""".format(d=tmp_path / "out")
    (tmp_path / "out").mkdir()
    for _ in range(2):
        proc = apply(tmp_path, book, "--json")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "out" / "h1" / "copy-of-a").read_text() == "a\nb\n"
    assert all(s["round_trips"] == 3 and s["changed"] == 0 for s in summary(proc).values()), summary(proc)


CHECK_BOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - copy: {{dest: "{d}/{{{{ inventory_hostname }}}}.v", content: "v=one\\n"}}
    - command: >-
        sh -c 'cat {d}/{{{{ inventory_hostname }}}}.v 2>/dev/null || echo missing;
        cat {d}/{{{{ inventory_hostname }}}}.v >> {d}/{{{{ inventory_hostname }}}}.log 2>/dev/null
        || echo missing >> {d}/{{{{ inventory_hostname }}}}.log'
      changed_when: false
    - command: sh -c 'exit 3'
      changed_when: false
      ignore_errors: true
    - command: sh -c 'echo after >> {d}/{{{{ inventory_hostname }}}}.log'
      changed_when: false
"""


def test_a_read_only_check_runs_once_at_its_turn(tmp_path: Path) -> None:
    """A check with side effects still runs exactly once per run, after the tasks before it; the checks
    after one that exits non-zero are not run ahead of it (they run at their own turn)."""
    out = tmp_path / "out"
    out.mkdir()
    for _ in range(2):
        proc = apply(tmp_path, CHECK_BOOK.format(d=out), "--json", hosts="h1")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "h1.log").read_text() == "v=one\nafter\nv=one\nafter\n"
