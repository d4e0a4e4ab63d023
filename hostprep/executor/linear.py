"""The linear strategy (Ansible's default): every host of the batch finishes a task before any
host starts the next one.

Each round, the hosts' next steps are compared by their place in the play (`Step.path`) and the
earliest one runs on every host that is at it, at once (up to --forks); the others wait. A
`run_once` task runs on the first of those hosts in the play's host order and its result is
given to all of them; handlers flush in lockstep too. The output reads like Ansible's: one
TASK header, then each host's line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hostprep.executor.iterator import FLUSH, GATHER, INCLUDE, HostCursor, Step
from hostprep.executor.scope import Scope
from hostprep.executor.state import HostState
from hostprep.executor.strategy import GATHERING, Strategy, written_at
from hostprep.playbook.model import Task


class LinearStrategy(Strategy):
    """Hosts move through the play in lockstep, task by task."""

    name = "linear"

    def run_batch(self, hosts: list[HostState]) -> None:
        started = time.monotonic()
        cursors: dict[str, HostCursor] = {h.name: self.run.iterator.cursor(h) for h in hosts}
        finished: set[str] = set()
        with ThreadPoolExecutor(max_workers=max(1, min(self.options.forks, len(hosts)))) as pool:
            self._pool = pool
            try:
                while True:
                    pending: list[tuple[HostState, Step]] = []
                    for host in hosts:
                        step = cursors[host.name].peek()
                        if step is not None:
                            pending.append((host, step))
                        elif host.name not in finished:
                            finished.add(host.name)
                            self.host_done(host, started)
                    if not pending:
                        return
                    if self.run.cancelled.is_set():  # Ctrl-C: no new task starts on any host
                        for host, _ in pending:
                            self.cancelled(host)
                        return
                    first = min(step.path for _, step in pending)
                    group = [(h, s) for h, s in pending if s.path == first]
                    before = {h.name for h, _ in group if h.failed or h.unreachable}
                    replies = self._run_group(group, hosts)
                    newly = [h for h, _ in group if (h.failed or h.unreachable) and h.name not in before]
                    for host, _ in group:
                        cursors[host.name].advance(replies.get(host.name))
                    rescued = self.rescued(newly, lambda h: cursors[h.name].peek())
                    step = group[0][1]
                    self.batch_failed(hosts, step.task, step.scope, newly, rescued)
            finally:
                self.run.status.clear()
                for host in hosts:
                    cursors[host.name].close()
                    if host.name not in finished:
                        self.host_done(host, started)

    def _each(self, hosts: list[HostState], work: Callable[[HostState], Any]) -> None:
        def counted(host: HostState) -> None:
            try:
                work(host)
            finally:
                self.run.status.one_done()

        list(self._pool.map(counted, hosts))

    def _run_group(self, group: list[tuple[HostState, Step]], batch: list[HostState]) -> dict[str, Any]:
        """Run one step on every host at it; returns each host's include expansion, if any."""
        step = group[0][1]
        hosts = [h for h, _ in group]
        if step.kind == GATHER:
            self.run.output.header(GATHERING, path=written_at(self.play))
            self.run.status.start(GATHERING, len(hosts))
            self._each(hosts, lambda h: self.guarded(h, None, lambda: self.gather(h)))
            return {}
        if step.kind == FLUSH:
            self.flush(hosts, self._each)
            return {}
        replies: dict[str, Any] = {}
        by_task: dict[int, list[tuple[HostState, Step]]] = {}
        for host, each in group:  # hosts at the same place may have included different files
            if self.selected(each):
                by_task.setdefault(id(each.task), []).append((host, each))
        for same in by_task.values():
            task = same[0][1].task
            assert task is not None
            if step.kind == INCLUDE:
                title = self._title(same[0][0], task, same[0][1].scope)
                self.run.output.header(title, path=written_at(task))
                for host, each in same:
                    replies[host.name] = self.guarded(host, task,
                                                      lambda h=host, s=each: self.expand(h, s.task, s.scope))
                self.report_included(task, title, [h for h, _ in same])
            elif task.module == "meta":
                self._meta(same, batch)
            else:
                self._task(task, same, batch)
        return replies

    def _meta(self, group: list[tuple[HostState, Step]], batch: list[HostState]) -> None:
        flush = [h for h, s in group if self.guarded(h, s.task, lambda h=h, s=s: self.meta(h, s.task, s.scope, batch))]
        if flush:
            self.flush(flush, self._each)

    def _task(self, task: Task, group: list[tuple[HostState, Step]], batch: list[HostState]) -> None:
        first, step = group[0]
        title = self._title(first, task, step.scope)
        if self.options.step is not None and not self.options.step(title):  # --step: the user said no
            return
        self.run.output.header(title, path=written_at(task))
        self.run.status.start(title, len(group))
        if self.guarded(first, task, lambda: self.run_once_wanted(first, task, step.scope)):
            self.run.status.start(title, 1)
            self._run_once(first, task, step, title, batch)
        else:
            scopes = {h.name: s.scope for h, s in group}
            self._each([h for h, _ in group], lambda h: self.guarded(
                h, task, lambda: self.run_task(h, task, scopes[h.name], title)))

    def _run_once(self, first: HostState, task: Task, step: Step, title: str, batch: list[HostState]) -> None:
        """Run on the first host; its facts and registered result go to every host of the batch."""
        others = [h for h in batch if h is not first and not h.unreachable]
        outcome = self.guarded(first, task, lambda: self.execute(first, task, step.scope, title))
        if outcome is None:
            return
        self.finish(first, task, step.scope, outcome, also=others)
        if first.failed and outcome.result.get("failed"):  # Ansible fails every host of the play with it
            for host in others:
                host.failed = True

    def _title(self, host: HostState, task: Task, scope: Scope) -> str:
        """The header's task name, rendered with the first host's variables (as Ansible does)."""
        try:
            prep = self.prep(host, task, scope)
            return prep.title(prep.templar())
        except Exception:  # noqa: BLE001 - the task itself reports what is wrong; the header shows the raw name
            return task.display_name

    def handler_started(self, handler: Task, scope: Scope, hosts: list[HostState]) -> None:
        title = self._title(hosts[0], handler, scope)
        self.run.output.header(title, handler=True, path=written_at(handler))
        self.run.status.start(title, len(hosts), handler=True)
