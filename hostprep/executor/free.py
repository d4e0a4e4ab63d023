"""The free strategy (`strategy: free`): each host walks the play on its own, as fast as it can.

A host never waits for another: one may be at task 1 while another is at task 5. Handlers run
per host. As in Ansible, `run_once` cannot hold under free: such a task runs on every host, with
a warning.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hostprep.executor.iterator import FLUSH, GATHER, INCLUDE, Step
from hostprep.executor.state import HostState
from hostprep.executor.strategy import GATHERING, Strategy, written_at
from hostprep.playbook.model import Task


class FreeStrategy(Strategy):
    """Every host on its own worker, through the whole play."""

    name = "free"

    def run_batch(self, hosts: list[HostState]) -> None:
        self._warned: set[int] = set()
        with ThreadPoolExecutor(max_workers=max(1, min(self.options.forks, len(hosts)))) as pool:
            list(pool.map(lambda h: self._run_host(h, hosts), hosts))

    def _run_host(self, host: HostState, batch: list[HostState]) -> None:
        started = time.monotonic()
        cursor = self.run.iterator.cursor(host)
        try:
            while (step := cursor.peek()) is not None:
                if self.cancelled(host):  # Ctrl-C: no new task starts
                    return
                was_active = host.active
                cursor.advance(self.guarded(host, step.task, lambda s=step: self._step(host, s, batch)))
                if was_active and (host.failed or host.unreachable):
                    rescued = self.rescued([host], lambda _: cursor.peek())
                    self.batch_failed(batch, step.task, step.scope, [host], rescued)
        finally:
            cursor.close()
            self.host_done(host, started)

    @staticmethod
    def _inline(hosts: list[HostState], work: Callable[[HostState], Any]) -> None:
        for host in hosts:
            work(host)

    def _step(self, host: HostState, step: Step, batch: list[HostState]) -> Any:
        if step.kind == GATHER:
            self.run.output.header(GATHERING, path=written_at(self.play))
            self.gather(host)
            return None
        if step.kind == FLUSH:
            self.flush([host], self._inline)
            return None
        task = step.task
        assert task is not None
        if not self.selected(step):
            return None
        if step.kind == INCLUDE:
            expansion = self.expand(host, task, step.scope)
            self.report_included(task, task.display_name, [host])
            return expansion
        if task.module == "meta":
            if self.meta(host, task, step.scope, batch):
                self.flush([host], self._inline)
            return None
        if self.run_once_wanted(host, task, step.scope):
            self._warn_run_once(task)
        if self.options.step is not None and not self.options.step(task.display_name):  # --step: said no
            return None
        self.run_task(host, task, step.scope)
        return None

    def _warn_run_once(self, task: Task) -> None:
        with self._lock:
            if task.uid in self._warned:
                return
            self._warned.add(task.uid)
        self.run.output.warn(f"run_once with the free strategy: task '{task.display_name}' ({task.where}) "
                             "runs on every host, as in Ansible")
