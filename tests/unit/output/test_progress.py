"""The progress display and the output rules, through the real executor on local hosts (no SSH).

`ansible_connection: local` hosts run every task for real under the test's tmp dir; the
ProgressOutput writes to a terminal-like rich Console whose text is checked.
"""

from __future__ import annotations

import io
import re
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from hostprep.executor.play import PlaybookRunner
from hostprep.executor.state import RunOptions
from hostprep.inventory import load_inventory
from hostprep.output.choose import choose_mode, make_output, play_targets
from hostprep.output.events import HostStats
from hostprep.output.human import HumanOutput, recap_lines
from hostprep.output.progress import (
    OK_LINES_MAX_HOSTS,
    ProgressOutput,
    Snapshot,
    fmt_elapsed,
    now_text,
    view_text,
)
from hostprep.playbook.loader import load_playbook

SECRET = "pa55-S3cret-xyz"


def _project(tmp: Path, hosts: int, book: str) -> tuple[Path, Path]:
    inv = tmp / "inv.ini"
    inv.write_text("[local]\n" + "".join(f"h{i:02d} ansible_connection=local\n" for i in range(hosts)))
    path = tmp / "site.yml"
    path.write_text(textwrap.dedent(book))
    return inv, path


def _run(inv: Path, book: Path, output_factory, **opts) -> tuple[dict[str, HostStats], PlaybookRunner]:  # noqa: ANN001
    playbook = load_playbook(book)
    inventory = load_inventory([str(inv)])
    options = RunOptions(**opts)
    output = output_factory(play_targets(playbook, inventory, options))
    runner = PlaybookRunner(playbook, inventory, options, output)
    if hasattr(output, "attach"):
        output.attach(runner)
    try:
        return runner.run(), runner
    finally:
        output.close()


def _plain(text: str) -> str:
    """Terminal text without cursor control and colors, as a person would read it."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text.replace("\r", "\n"))


def _terminal() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=140, color_system=None, highlight=False)


BOOK = """
- hosts: local
  gather_facts: false
  vars:
    app_password: "{secret}"
  tasks:
    - name: make dir
      file: path={tmp}/out/{{{{ inventory_hostname }}}} state=directory
    - name: unchanged check
      command: "true"
      changed_when: false
    - name: write file
      copy: dest={tmp}/out/{{{{ inventory_hostname }}}}/a.txt content="a"
    - name: secret in a result
      set_fact:
        db_password: "{{{{ app_password }}}}"
    - name: secret hidden by no_log
      debug: msg="{{{{ app_password }}}}"
      no_log: true
    - name: only on h01
      command: "false"
      when: inventory_hostname == 'h01'
"""


def test_choose_mode_rule() -> None:
    assert choose_mode("auto", as_json=False, isatty=True, hosts=2) == "bar"
    assert choose_mode("auto", as_json=False, isatty=True, hosts=1) == "lines"
    assert choose_mode("auto", as_json=False, isatty=False, hosts=50) == "lines"
    assert choose_mode("auto", as_json=True, isatty=True, hosts=50) == "json"
    assert choose_mode("bar", as_json=False, isatty=False, hosts=1) == "bar"
    assert choose_mode("lines", as_json=False, isatty=True, hosts=50) == "lines"
    assert choose_mode("bar", as_json=True, isatty=True, hosts=50) == "json"
    with pytest.raises(ValueError):
        choose_mode("fancy", as_json=False, isatty=True, hosts=2)


def test_view_shows_counts_tasks_and_interrupt() -> None:
    snap = Snapshot(play="web", play_number=1, plays=2, total=10, done=3, hosts_changed=2, hosts_failed=1,
                    hosts_unreachable=1, results={"ok": 40, "changed": 7, "failed": 1, "skipped": 5},
                    now=[("docker : Install", 5), ("Gathering Facts", 2)], elapsed=3723.4)
    text = view_text(snap)
    assert "PLAY [web] (play 1 of 2)" in text and "3/10 hosts" in text and "1:02:03" in text
    assert "2 changed · 1 failed · 1 unreachable" in text
    assert "ok=40 changed=7 failed=1 skipped=5" in text
    assert "now:     docker : Install (5) · Gathering Facts (2)" in text
    assert "interrupted" not in text
    snap.interrupted = True
    assert "interrupted (Ctrl-C)" in view_text(snap)
    assert now_text([(f"t{i}", 1) for i in range(5)]) == "t0 (1) · t1 (1) · t2 (1) · +2 more"
    assert fmt_elapsed(59.9) == "0:00:59" and fmt_elapsed(-1) == "0:00:00"


def test_recap_marks_interrupted_hosts() -> None:
    rows = recap_lines({"a": HostStats(ok=2), "b": HostStats(ok=1, interrupted=True)})
    assert rows[0][0].startswith("a ") and not rows[0][0].endswith("interrupted")
    assert rows[1][0].rstrip().endswith("interrupted")
    assert rows[-1][0] == "INTERRUPTED (Ctrl-C): 1 host(s) did not finish: b"


def test_large_fleet_prints_only_what_matters(tmp_path: Path) -> None:
    hosts = OK_LINES_MAX_HOSTS + 2
    inv, book = _project(tmp_path, hosts, BOOK.format(tmp=tmp_path, secret=SECRET))
    console = _terminal()
    stats, _ = _run(inv, book, lambda targets: ProgressOutput(console=console, targets=targets))
    raw = console.file.getvalue()
    out = _plain(raw)
    assert "\x1b[1A" in raw  # the display was redrawn in place
    assert (tmp_path / "out/h00/a.txt").read_text() == "a"
    assert all(s.changed == 2 for s in stats.values())
    assert stats["h01"].failed == 1 and sum(s.failed for s in stats.values()) == 1
    lines = out.splitlines()
    # changed and failed lines, each naming its task; no ok or skipping line
    assert sum(1 for line in lines if line.startswith("changed: [") and "TASK [write file]" in line) == hosts
    assert any(line.startswith("fatal: [h01] TASK [only on h01]: FAILED! =>") for line in lines), out
    assert not any(line.startswith(("ok: [", "skipping: [")) for line in lines), out
    # the live display: hosts counter, counts; what was not printed is counted
    assert f"{hosts}/{hosts} hosts" in out and "1 failed" in out
    assert f"({hosts * 3} ok, {hosts - 1} skipped results not shown" in out
    assert "PLAY RECAP" in out and out.index("PLAY RECAP") > out.rindex(f"{hosts}/{hosts} hosts")
    assert SECRET not in out


def test_small_fleet_prints_ok_lines_and_no_secret_even_verbose(tmp_path: Path) -> None:
    inv, book = _project(tmp_path, 2, BOOK.format(tmp=tmp_path, secret=SECRET))
    console = _terminal()
    _run(inv, book, lambda targets: ProgressOutput(console=console, targets=targets, verbosity=1))
    out = _plain(console.file.getvalue())
    assert "ok: [h00] TASK [unchanged check]" in out
    assert "ok: [h00] TASK [secret in a result] =>" in out and '"db_password": "********"' in out
    assert "skipping: [h00] TASK [only on h01]" in out  # -v shows skipped lines too
    assert SECRET not in out


def test_plain_lines_when_not_a_terminal(tmp_path: Path) -> None:
    inv, book = _project(tmp_path, 3, BOOK.format(tmp=tmp_path, secret=SECRET))
    stream = io.StringIO()
    output = make_output("auto", as_json=False, verbosity=0, diff=False, targets=[["h00", "h01", "h02"]],
                         stream=stream)
    assert isinstance(output, HumanOutput)
    _run(inv, book, lambda targets: output)
    out = stream.getvalue()
    assert "TASK [write file]" in out and "ok: [h00]" in out and "PLAY RECAP" in out
    assert "hosts:" not in out and "\x1b[" not in out
    assert SECRET not in out


def test_play_targets_follow_patterns_and_limit(tmp_path: Path) -> None:
    inv, book = _project(tmp_path, 3, """
    - hosts: local
      tasks: []
    - hosts: h01,h02
      tasks: []
    """)
    playbook, inventory = load_playbook(book), load_inventory([str(inv)])
    assert play_targets(playbook, inventory, RunOptions()) == [["h00", "h01", "h02"], ["h01", "h02"]]
    assert play_targets(playbook, inventory, RunOptions(limit="h02")) == [["h02"], ["h02"]]


def test_now_line_names_tasks_rendered() -> None:
    """The display's `now` names a task as its lines do ("{{ item }}" resolved), not its template."""
    import types

    from hostprep.executor.state import HostState
    from hostprep.playbook.model import Task

    task = Task(name="install {{ pkg }}", module="debug", args={}, keywords={})
    states = {}
    for name in ("a", "b"):
        states[name] = HostState(name=name, inv_vars={})
    runner = types.SimpleNamespace(states=states, task_status=types.SimpleNamespace(read=lambda: ("", 0, 0, False)))
    out = ProgressOutput(stream=io.StringIO(), targets=[["a", "b"]])
    out.attach(runner)
    out._play_index = 0  # the first play is running (as after play())
    for st in states.values():
        st.current_task = task
    states["a"].current_title = "install docker"
    snap = out.snapshot()
    assert dict(snap.now) == {"install docker": 1, "install {{ pkg }}": 1}
