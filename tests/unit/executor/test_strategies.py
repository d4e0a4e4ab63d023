"""The play iterator and the strategies' own rules: the walk's order, `order:`, `throttle:`, the strategy
checked up front, and the progress display under linear. Real runs on local-connection hosts (no SSH)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from hostprep.errors import InputError
from hostprep.executor.iterator import PlayIterator, static_walk
from hostprep.executor.play import PlaybookRunner, ordered, play_strategy
from hostprep.executor.state import RunOptions
from hostprep.inventory import load_inventory
from hostprep.output.progress import ProgressOutput, view_text
from hostprep.playbook.loader import load_playbook

BIN = Path(sys.executable).parent / "hostprep"


def _write(tmp: Path, book: str, hosts: tuple[str, ...] = ("h1", "h2", "h3")) -> tuple[Path, Path]:
    inv = tmp / "inv.ini"
    inv.write_text("[local]\n" + "".join(f"{h} ansible_connection=local\n" for h in hosts))
    path = tmp / "site.yml"
    path.write_text(textwrap.dedent(book))
    return inv, path


def _apply(tmp: Path, book: str, *extra: str, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess:
    """hostprep apply in `tmp`; `env` entries override the environment (None removes a variable)."""
    inv, path = _write(tmp, book)
    environ = {k: v for k, v in {**os.environ, **(env or {})}.items() if v is not None}
    return subprocess.run([str(BIN), "apply", "-i", str(inv), str(path), *extra], capture_output=True, text=True,
                          cwd=tmp, timeout=120, env=environ)


WALK_BOOK = """
- hosts: local
  gather_facts: false
  pre_tasks:
    - {name: pre, debug: {msg: pre}}
  roles:
    - r
  tasks:
    - block:
        - {name: in block, debug: {msg: b}}
      rescue:
        - {name: rescue, debug: {msg: r}}
      always:
        - {name: always, debug: {msg: a}}
    - {name: static include, include_tasks: inc.yml}
  post_tasks:
    - {name: post, debug: {msg: post}}
"""


def test_the_walk_is_pre_tasks_roles_tasks_post_tasks_with_blocks_and_static_includes(tmp_path: Path) -> None:
    (tmp_path / "roles/r/tasks").mkdir(parents=True)
    (tmp_path / "roles/r/tasks/main.yml").write_text("- {name: role task, debug: {msg: r}}\n")
    (tmp_path / "inc.yml").write_text("- {name: included, debug: {msg: i}}\n")
    _, path = _write(tmp_path, WALK_BOOK)
    play = load_playbook(path).plays[0]
    names = [str(task.name).split(" : ")[-1] for task, _ in static_walk(play)]
    assert names == ["pre", "role task", "in block", "always", "included", "post"]  # a rescue needs a failure


class _Host:
    """A host for the walk that fails at the task named `fail_at`."""

    def __init__(self) -> None:
        self.failed = self.unreachable = self.ended = False
        self.notified: list[str] = []
        self.rescued = False

    @property
    def active(self) -> bool:
        return not (self.failed or self.unreachable or self.ended)

    def enter_rescue(self) -> None:
        self.failed, self.rescued = False, True


def test_steps_come_in_play_order_and_a_failure_goes_to_rescue_then_always(tmp_path: Path) -> None:
    (tmp_path / "roles/r/tasks").mkdir(parents=True)
    (tmp_path / "roles/r/tasks/main.yml").write_text("- {name: role task, debug: {msg: r}}\n")
    (tmp_path / "inc.yml").write_text("- {name: included, debug: {msg: i}}\n")
    _, path = _write(tmp_path, WALK_BOOK)
    play = load_playbook(path).plays[0]
    host = _Host()
    cursor = PlayIterator(play, gather=True).cursor(host)
    seen, paths = [], []
    while (step := cursor.peek()) is not None:
        seen.append(step.kind if step.task is None else str(step.task.name).split(" : ")[-1])
        paths.append(step.path)
        if seen[-1] == "in block":
            host.failed = True
        cursor.advance(None)
    assert seen == ["gather", "pre", "role task", "in block", "rescue", "always", "static include", "post"]
    assert paths == sorted(paths) and host.rescued and not host.failed


@pytest.mark.parametrize("order,expected", [
    (None, ["b", "c", "a"]), ("inventory", ["b", "c", "a"]), ("reverse_inventory", ["a", "c", "b"]),
    ("sorted", ["a", "b", "c"]), ("reverse_sorted", ["c", "b", "a"]),
])
def test_order_keyword(order: str | None, expected: list[str]) -> None:
    assert ordered(["b", "c", "a"], order) == expected


def test_order_shuffle_is_a_permutation() -> None:
    names = [f"h{i}" for i in range(30)]
    shuffled = ordered(names, "shuffle")
    assert sorted(shuffled) == sorted(names) and shuffled != names


def test_an_unknown_strategy_is_refused_before_any_host_with_file_and_line(tmp_path: Path) -> None:
    book = f"""
    - hosts: local
      gather_facts: false
      strategy: host_pinned
      tasks:
        - command: touch {tmp_path}/touched
    """
    proc = _apply(tmp_path, book)
    assert proc.returncode != 0 and not (tmp_path / "touched").exists()
    assert "site.yml:2" in proc.stderr and "strategy" in proc.stderr and "host_pinned" in proc.stderr, proc.stderr
    book = book.replace("strategy: host_pinned", "")
    proc = _apply(tmp_path, book, env={"ANSIBLE_STRATEGY": "mitogen_linear"})
    assert proc.returncode != 0 and not (tmp_path / "touched").exists()
    assert "$ANSIBLE_STRATEGY" in proc.stderr and "mitogen_linear" in proc.stderr, proc.stderr


def test_strategy_default_and_fully_qualified_names(tmp_path: Path) -> None:
    _, path = _write(tmp_path, "- hosts: local\n  strategy: ansible.builtin.free\n  tasks: []\n- hosts: local\n"
                               "  tasks: []\n")
    first, second = load_playbook(path).plays
    assert play_strategy(first, RunOptions()) == "free"
    assert play_strategy(second, RunOptions(strategy="free")) == "free"
    with pytest.raises(InputError, match="run's options"):
        play_strategy(second, RunOptions(strategy="debug"))


def _intervals(log: Path) -> list[tuple[float, float]]:
    rows = [line.split() for line in log.read_text().splitlines()]
    starts = {h: float(t) for h, kind, t in rows if kind == "start"}
    ends = {h: float(t) for h, kind, t in rows if kind == "end"}
    return sorted((starts[h], ends[h]) for h in starts)


@pytest.mark.parametrize("where", ["task", "block", None])
def test_throttle_bounds_how_many_hosts_run_a_task_at_once(tmp_path: Path, where: str | None) -> None:
    log = tmp_path / "log"
    book = f"""
    - hosts: local
      gather_facts: false
      tasks:
        - block:
            - shell: echo {{{{ inventory_hostname }}}} start $(date +%s.%N) >> {log}; sleep 0.4;
                     echo {{{{ inventory_hostname }}}} end $(date +%s.%N) >> {log}
              {"throttle: 1" if where == "task" else ""}
          {"throttle: 1" if where == "block" else ""}
    """
    proc = _apply(tmp_path, book)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    spans = _intervals(log)
    overlapping = any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))
    assert len(spans) == 3 and overlapping is (where is None)


def test_the_progress_display_shows_the_lockstep_task_and_hosts_done_with_it(tmp_path: Path) -> None:
    inv, path = _write(tmp_path, """
    - hosts: local
      gather_facts: false
      tasks:
        - name: slow on h1
          shell: "{{ 'sleep 1.5' if inventory_hostname == 'h1' else 'true' }}"
    """)
    console = Console(file=io.StringIO(), force_terminal=True, width=140, color_system=None)
    output = ProgressOutput(console=console, targets=[["h1", "h2", "h3"]])
    runner = PlaybookRunner(load_playbook(path), load_inventory([str(inv)]), RunOptions(), output)
    output.attach(runner)
    seen: list[str] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            snap = output.snapshot()
            if snap.task:
                seen.append(view_text(snap))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        runner.run()
    finally:
        done.set()
        sampler.join()
        output.close()
    assert any("now:     TASK [slow on h1] (2/3 hosts done)" in text for text in seen), seen[-3:]


SLOW_H1 = """
- hosts: local
  gather_facts: false
  tasks:
    - shell: "{{{{ 'sleep 1' if inventory_hostname == 'h1' else 'true' }}}};
              echo {{{{ inventory_hostname }}}} one >> {log}"
    - shell: echo {{{{ inventory_hostname }}}} two >> {log}
"""


@pytest.mark.parametrize("source", ["ansible.cfg", "ANSIBLE_STRATEGY", "HOSTPREP_STRATEGY", None])
def test_the_default_strategy_comes_from_ansible_cfg_or_the_environment(tmp_path: Path, source: str | None) -> None:
    env: dict[str, str | None] = {"ANSIBLE_STRATEGY": None, "HOSTPREP_STRATEGY": None, "ANSIBLE_CONFIG": None}
    if source == "ansible.cfg":
        (tmp_path / "ansible.cfg").write_text("[defaults]\nstrategy = free\n")
    elif source is not None:
        env[source] = "free"
    log = tmp_path / "log"
    proc = _apply(tmp_path, SLOW_H1.format(log=log), env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = log.read_text().split("\n")
    free = lines.index("h2 two") < lines.index("h1 one")  # the others did not wait for the slow h1
    assert free is (source is not None), lines


def test_a_bad_strategy_in_ansible_cfg_is_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "ansible.cfg").write_text("[defaults]\nstrategy = host_pinned\n")
    proc = _apply(tmp_path, SLOW_H1.format(log=tmp_path / "log"),
                  env={"ANSIBLE_STRATEGY": None, "ANSIBLE_CONFIG": None})
    assert proc.returncode != 0 and not (tmp_path / "log").exists()
    assert "host_pinned" in proc.stderr and "ansible.cfg" in proc.stderr, proc.stderr
