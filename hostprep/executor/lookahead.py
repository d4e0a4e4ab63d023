"""What the tasks ahead of a host will probe, worked out before they run (the fast path's guess).

The play's tasks are laid out once in the order a host walks them (pre_tasks, roles, tasks,
post_tasks; blocks and their `always`; static includes). When a probe is not cached, the
executor asks for the probes of every task after the one running, on a scratch copy of the
host's variables, and sends them all in one batch. Guessing wrong is safe (see prober.py).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from hostprep.executor.probebatch import ProbeRequest
from hostprep.executor.scope import Scope, tags_selected
from hostprep.playbook.model import Block, Play, Task

if TYPE_CHECKING:
    from hostprep.executor.play import PlayRunner
    from hostprep.executor.state import HostState

MAX_AHEAD = 400  # tasks looked at per guess: bounds the cost of a guess on very long plays
_SKIP = ("meta", "include_tasks", "include_role", "import_tasks", "import_role")


def static_walk(play: Play) -> list[tuple[Task, Scope]]:
    """Every task of the play with its scope, in the order a host meets them when nothing fails."""
    out: list[tuple[Task, Scope]] = []

    def walk(items: list[Any], scope: Scope) -> None:
        for item in items:
            if isinstance(item, Block):
                inner = scope.with_block(item)
                walk(item.block, inner)
                walk(item.always, inner)
            elif item.module == "include_tasks" and item.included is not None:
                walk(item.included, scope.with_include(item, {}))
            elif item.module == "include_role" and item.included:
                role = item.included[0]
                walk(role.tasks, scope.with_include(item, {}).with_role(role))
            else:
                out.append((item, scope))

    base = Scope(play)
    walk(play.pre_tasks, base)
    for role in play.roles:
        walk(role.tasks, base.with_role(role))
    walk(play.tasks, base)
    walk(play.post_tasks, base)
    return out


def scratch_host(host: HostState) -> HostState:
    """A copy of the host's state that speculation may change (set_fact, include_vars, register)."""
    scratch = copy.copy(host)
    scratch.set_facts = dict(host.set_facts)
    scratch.include_vars = dict(host.include_vars)
    scratch.facts = dict(host.facts)
    scratch.module_facts = set(host.module_facts)
    scratch.notified = []
    return scratch


def probes_ahead(runner: PlayRunner, host: HostState, walk: list[tuple[Task, Scope]], start: int,
                 facts: dict[str, Any] | None = None, limit: int | None = None) -> list[ProbeRequest]:
    """The probes of walk[start:] (at most `limit` tasks) for this host, as far as they can be worked out now."""
    from hostprep.executor.taskrun import TaskRunner

    scratch = scratch_host(host)
    if facts is not None:
        scratch.facts = dict(facts)
    options = runner.options
    out: list[ProbeRequest] = []
    for task, scope in walk[start:start + min(MAX_AHEAD, limit or MAX_AHEAD)]:
        if task.module in _SKIP:
            continue
        if not tags_selected(scope.task_tags(task), options.tags, options.skip_tags):
            continue
        try:
            out.extend(TaskRunner(runner, scratch, task, scope).speculate())
        except Exception:  # noqa: BLE001 - what cannot be worked out now is simply not fetched ahead
            register = task.kw("register")
            if register:
                scratch.set_facts.pop(register, None)
    return out


def position(walk: list[tuple[Task, Scope]], task: Task, hint: int = 0) -> int | None:
    """Where `task` sits in the walk (searching from `hint` first: roles may repeat a task)."""
    for index in range(hint, len(walk)):
        if walk[index][0] is task:
            return index
    for index in range(0, min(hint, len(walk))):
        if walk[index][0] is task:
            return index
    return None


def is_check(task: Task) -> bool:
    """A `command` task with `changed_when: false` (see TaskRunner.read_only_check)."""
    value = task.kw("changed_when")
    return task.module == "command" and (value is False or (isinstance(value, str)
                                                             and value.strip().lower() in ("false", "no")))


def checks_ahead(runner: PlayRunner, host: HostState, walk: list[tuple[Task, Scope]],
                 start: int) -> list[ProbeRequest]:
    """The read-only checks that directly follow walk[start - 1], up to the first other task."""
    from hostprep.executor.taskrun import TaskRunner

    scratch = scratch_host(host)
    options = runner.options
    out: list[ProbeRequest] = []
    for task, scope in walk[start:start + MAX_AHEAD]:
        if not tags_selected(scope.task_tags(task), options.tags, options.skip_tags):
            continue
        if not is_check(task):
            break
        try:
            out.extend(TaskRunner(runner, scratch, task, scope).speculate(checks=True))
        except Exception:  # noqa: BLE001 - a check that cannot be worked out runs at its turn
            break
    return out
