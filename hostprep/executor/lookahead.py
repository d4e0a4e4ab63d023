"""What the tasks ahead of a host will probe, worked out before they run (the fast path's guess).

The play's tasks are laid out once in the order a host walks them when nothing fails
(iterator.static_walk: the same iterator the strategies walk). When a probe is not cached, the
executor asks for the probes of every task after the one running, prepared exactly as the run
prepares them (prepare.py) on a scratch copy of the host's variables, and sends them all in one
batch. Guessing wrong is safe (see prober.py).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from hostprep.executor.iterator import notified_handlers, static_walk
from hostprep.executor.prepare import TaskPrep, is_check, loop_vars
from hostprep.executor.probebatch import ProbeRequest
from hostprep.executor.results import apply_facts
from hostprep.executor.scope import Scope, tags_selected
from hostprep.executor.state import HostState
from hostprep.executor.variables import PlayVars
from hostprep.modules.base import TaskContext
from hostprep.playbook.model import Task

MAX_AHEAD = 400  # tasks looked at per guess: bounds the cost of a guess on very long plays
_SKIP = ("meta", "include_tasks", "include_role", "import_tasks", "import_role")
_VARIABLE_SETTERS = ("set_fact", "include_vars")

Walk = list[tuple[Task, Scope]]


def scratch_host(host: HostState) -> HostState:
    """A copy of the host's state that speculation may change (set_fact, include_vars, register)."""
    scratch = copy.copy(host)
    scratch.set_facts = dict(host.set_facts)
    scratch.include_vars = dict(host.include_vars)
    scratch.facts = dict(host.facts)
    scratch.module_facts = set(host.module_facts)
    scratch.notified = []
    return scratch


def speculate(prep: TaskPrep, checks: bool = False) -> list[ProbeRequest]:
    """The probes this task would ask for if it ran now, without running it or touching the host.

    Controller-only tasks that only set variables (set_fact, include_vars) are carried out on
    the (scratch) host state so that later tasks see their variables. Anything that cannot be
    worked out yet (a condition on a result not known, an undefined variable) yields nothing.
    """
    return _speculate(prep, checks)[0]


def _speculate(prep: TaskPrep, checks: bool = False) -> tuple[list[ProbeRequest], bool]:
    """`speculate`, and whether the task would run at all (False: skipped by its `when` for every item)."""
    templar = prep.templar()
    if prep.delegate(templar) not in (None, "", prep.host.name):
        return [], True
    whens = prep.whens()
    module = prep.module()
    items = prep.loop_items(templar)
    lc = prep.loop_control()
    out: list[ProbeRequest] = []
    runs = False
    for index in range(len(items) if items is not None else 1):
        item_templar = templar if items is None else templar.child(loop_vars(lc, items, index))
        if not prep.conditions_hold(item_templar, whens):
            continue
        runs = True
        args = prep.args(module, item_templar)
        if module.runs_on == "controller":
            if module.name in _VARIABLE_SETTERS:
                ctx = TaskContext(transport=None, host=prep.host.name,  # type: ignore[arg-type]
                                  variables=item_templar.variables, templar=item_templar,
                                  render=lambda text, t=item_templar: t.render(text, context=prep.context),
                                  find_file=prep.find_file)
                apply_facts(prep.host, module.run(args, ctx))
            continue
        become = prep.become(item_templar)
        env = prep.environment(item_templar) or None
        if prep.read_only_check(module.name) and not (args.get("stdin") or args.get("creates")
                                                      or args.get("removes")):
            if checks:
                step = module.plan(args, None, None)  # type: ignore[arg-type]
                out.append(ProbeRequest(step.steps[0].cmd, become if become.enabled else None, env))
            continue
        if checks:
            continue
        snippet = module.lookahead_probe(args, prep.host.facts)
        if snippet is not None:
            out.append(ProbeRequest(snippet, become if become.enabled else None, env))
    register = prep.task.kw("register")
    if register:
        prep.host.set_facts.pop(register, None)
    return out, runs


def position(walk: Walk, task: Task, hint: int = 0) -> int | None:
    """Where `task` sits in the walk (searching from `hint` first: roles may repeat a task)."""
    for index in range(hint, len(walk)):
        if walk[index][0] is task:
            return index
    for index in range(0, min(hint, len(walk))):
        if walk[index][0] is task:
            return index
    return None


class Lookahead:
    """The fast path's guesses for the hosts of one play (the walk is laid out once, on first use)."""

    def __init__(self, play_vars: PlayVars) -> None:
        self.play_vars = play_vars
        self._walk: Walk | None = None
        self._lock = threading.Lock()

    def walk(self) -> Walk:
        with self._lock:
            if self._walk is None:
                self._walk = static_walk(self.play_vars.play)
            return self._walk

    def probes_from(self, host: HostState, start: int, facts: dict[str, Any] | None = None,
                    limit: int | None = None) -> list[ProbeRequest]:
        """The probes of walk[start:] (at most `limit` tasks that would run: one its `when` skips, or its tags
        leave out, is not counted) for this host, as far as they can be worked out now."""
        scratch = scratch_host(host)
        if facts is not None:
            scratch.facts = dict(facts)
        options = self.play_vars.options
        out: list[ProbeRequest] = []
        walk = self.walk()
        counted = 0
        pending = list(host.notified)
        for task, scope in walk[start:start + MAX_AHEAD]:
            # past the limit, only a flush that comes before any task that runs still adds its handlers' probes:
            # nothing runs in between to carry them, so they would cost a round trip of their own
            full = limit is not None and counted >= limit
            if full and not pending:
                break
            if task.module == "meta" and task.args.get("action") == "flush_handlers":
                # the handlers notified so far run here: their probes too (at the first flush, which clears them)
                for handler, handler_scope in notified_handlers(self.play_vars.play, pending):
                    probes, _ = self._speculate(scratch, handler, handler_scope)
                    out.extend(probes)
                    counted += 1
                pending = []
                continue
            if task.module in _SKIP:
                if full:
                    break
                continue
            if not tags_selected(scope.task_tags(task), options.tags, options.skip_tags):
                continue
            probes, runs = self._speculate(scratch, task, scope)
            if full and runs:
                break
            if not full:
                out.extend(probes)
                counted += runs
        return out

    def _speculate(self, scratch: HostState, task: Task, scope: Scope) -> tuple[list[ProbeRequest], bool]:
        try:
            return _speculate(TaskPrep(self.play_vars, scratch, task, scope))
        except Exception:  # noqa: BLE001 - what cannot be worked out now is simply not fetched ahead
            register = task.kw("register")
            if register:
                scratch.set_facts.pop(register, None)
            return [], True

    def probes(self, host: HostState, limit: int | None = None) -> list[ProbeRequest]:
        """The probes of the running task and of every task after it."""
        pos = self._position(host)
        return [] if pos is None else self.probes_from(host, pos, limit=limit)

    def checks(self, host: HostState) -> list[ProbeRequest]:
        """The read-only checks that directly follow the running task, up to the first other task."""
        pos = self._position(host)
        if pos is None:
            return []
        scratch = scratch_host(host)
        options = self.play_vars.options
        out: list[ProbeRequest] = []
        for task, scope in self.walk()[pos + 1:pos + 1 + MAX_AHEAD]:
            if not tags_selected(scope.task_tags(task), options.tags, options.skip_tags):
                continue
            if not is_check(task):
                break
            try:
                out.extend(speculate(TaskPrep(self.play_vars, scratch, task, scope), checks=True))
            except Exception:  # noqa: BLE001 - a check that cannot be worked out runs at its turn
                break
        return out

    def _position(self, host: HostState) -> int | None:
        if host.current_task is None:
            return None
        pos = position(self.walk(), host.current_task, host.walk_pos)
        if pos is not None:
            host.walk_pos = pos
        return pos
