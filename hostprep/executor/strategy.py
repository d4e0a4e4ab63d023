"""What both strategies do with a step of a host's walk: run it, show it, apply its result.

A strategy (linear.py, free.py) decides *when* each host takes its next step; this module
decides *what* a step does: gather facts, run a task (TaskRunner) and apply the outcome
(results.py), expand an include, carry out a meta action, run the notified handlers. The
strategy owns the results: the task runner never changes host state or stats itself.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hostprep.errors import HostprepError, InputError, PlaybookError, TransportError, UnreachableError
from hostprep.executor.connections import Connections
from hostprep.executor.factcache import save_facts
from hostprep.executor.iterator import Expansion, PlayIterator, Step, handler_names, include_order, notified_handlers
from hostprep.executor.lookahead import Lookahead
from hostprep.executor.prepare import TaskPrep, loop_vars, play_become
from hostprep.executor.probebatch import ProbeRequest
from hostprep.executor.prober import ProbingTransport
from hostprep.executor.results import TaskOutcome, apply_result, save_cached_facts
from hostprep.executor.scope import Scope, tags_selected
from hostprep.executor.state import HostState, TaskStatus
from hostprep.executor.taskrun import RunServices, TaskRunner
from hostprep.executor.variables import PlayVars
from hostprep.facts import facts_script, gather_facts, parse_facts
from hostprep.output.events import TaskEvent
from hostprep.playbook.keywords import BLOCK as BLOCK_KEYWORDS
from hostprep.playbook.loader import LoadContext, role_identity
from hostprep.playbook.model import Block, Task
from hostprep.playbook.tasks import TaskSource, included_path, load_included_tasks
from hostprep.templating.templar import is_template
from hostprep.transport.base import BecomeSpec
from hostprep.values import to_bool

GATHERING = "Gathering Facts"


def applied(scope: Scope, task: Task) -> Scope:
    """The scope of an include's tasks with its `apply:` keywords over them, as Ansible applies them (like a
    block around the included tasks: become, tags, when, environment, ...)."""
    apply = task.args.get("apply")
    if not apply:
        return scope
    if not isinstance(apply, dict):
        raise InputError(f"{task.module}: apply must be a mapping of task keywords", file=task.file, line=task.line,
                         key="apply")
    bad = sorted(str(k) for k in apply if k not in BLOCK_KEYWORDS or k in ("block", "rescue", "always"))
    if bad:
        raise InputError(f"{task.module}: apply: {', '.join(bad)} is not a task keyword", file=task.file,
                         line=task.line, key="apply")
    return scope.with_block(Block(block=[], rescue=[], always=[], keywords=dict(apply), file=task.file,
                                  line=task.line))


def written_at(item: Any) -> str | None:
    """Where a task or play is written, as Ansible's -vv `task path:` shows it (absolute FILE:LINE)."""
    file = getattr(item, "file", None)
    return f"{os.path.abspath(file)}:{getattr(item, 'start_line', None) or item.line}" if file else None


@dataclass
class PlayRun:
    """Everything a strategy uses for one play."""

    play_vars: PlayVars
    iterator: PlayIterator
    connections: Connections
    lookahead: Lookahead
    output: Any
    cancelled: threading.Event
    status: TaskStatus  # the lockstep task and how many hosts are done with it (progress display)

    @property
    def play(self) -> Any:
        return self.play_vars.play

    @property
    def options(self) -> Any:
        return self.play_vars.options


class Strategy:
    """The steps both strategies share; `run_batch` (in the subclasses) orders them."""

    name = ""  # the `strategy:` word that selects it

    def __init__(self, run: PlayRun) -> None:
        self.run = run
        self.play = run.play
        self.options = run.options
        self.services = RunServices(transport_for=run.connections.transport_for, emit=self.emit,
                                    cancelled=run.cancelled, delegate_label=run.connections.delegate_label)
        self._throttles: dict[int, threading.Semaphore] = {}
        self._lock = threading.Lock()
        self.force_handlers = to_bool(self.play.kw("force_handlers", False), "force_handlers")

    def run_batch(self, hosts: list[HostState]) -> None:
        raise NotImplementedError

    # -- shared helpers -------------------------------------------------------------------
    def emit(self, event: TaskEvent) -> None:
        self.run.output.event(event)

    def cancelled(self, host: HostState) -> bool:
        """After Ctrl-C a host starts nothing new and is reported as not finished."""
        if not self.run.cancelled.is_set():
            return False
        host.ended = True
        host.stats.interrupted = True
        return True

    def selected(self, step: Step) -> bool:
        """--tags/--skip-tags: is this task run at all. A dynamic include is selected by its own tags (as in
        Ansible: `include_tasks` tagged [a] is not run under --tags b); an import_role always is (its tags
        went to its tasks)."""
        task = step.task
        if task is None or (task.module == "include_role" and task.args.get("static")):
            return True
        return tags_selected(step.scope.task_tags(task), self.options.tags, self.options.skip_tags)

    def prep(self, host: HostState, task: Task, scope: Scope) -> TaskPrep:
        return TaskPrep(self.run.play_vars, host, task, scope)

    def guarded(self, host: HostState, task: Task | None, work: Callable[[], Any]) -> Any:
        """Run one step of a host; an error stops that host only (its rescue/always still run)."""
        try:
            return work()
        except PlaybookError:
            raise  # ends the run, not only this host
        except UnreachableError as exc:
            host.unreachable = True
            host.stats.unreachable = 1
            self.emit(TaskEvent(host.name, "connect", "unreachable", {"msg": str(exc)}))
        except HostprepError as exc:
            self._failed(host, task, "error", {"msg": str(exc)})
        except Exception as exc:  # noqa: BLE001 - one host's internal error must not stop the others
            self._failed(host, task, "internal error",
                         {"msg": f"hostprep internal error: {type(exc).__name__}: {exc}",
                          "exception": traceback.format_exc()})
        return None

    def _failed(self, host: HostState, task: Task | None, title: str, result: dict[str, Any]) -> None:
        host.failed = True
        host.stats.failed += 1
        if task is not None:
            host.last_failure = (task, {"failed": True, **result})
        self.emit(TaskEvent(host.name, title, "failed", result))

    def throttle(self, prep: TaskPrep) -> threading.Semaphore | None:
        """`throttle: N`: at most N hosts run this task at once (one semaphore per task)."""
        value = prep.scope.keyword(prep.task, "throttle")
        if value in (None, 0, "0", ""):
            return None
        limit = int(prep.kw(prep.templar(), "throttle"))
        if limit <= 0:
            return None
        with self._lock:
            return self._throttles.setdefault(prep.task.uid, threading.Semaphore(limit))

    # -- a task on one host ---------------------------------------------------------------
    def execute(self, host: HostState, task: Task, scope: Scope, title: str | None = None) -> TaskOutcome:
        """Run the task on the host (within its throttle); nothing is applied yet."""
        prep = self.prep(host, task, scope)
        if scope.role is not None and not scope.handler:
            ident = role_identity(scope.role)
            if ident not in host.roles_run:
                host.roles_run.append(ident)
        host.current_task = task
        host.current_title = None  # set (rendered) when the task starts; until then its display name
        gate = self.throttle(prep)
        if gate is None:
            return TaskRunner(prep, self.services, title).run()
        with gate:
            return TaskRunner(prep, self.services, title).run()

    def finish(self, host: HostState, task: Task, scope: Scope, outcome: TaskOutcome,
               also: list[HostState] | None = None) -> None:
        """Show the outcome (a loop's items were shown as they ran) and apply it."""
        self.check_notified(task, outcome)
        if not outcome.loop:
            self.emit(TaskEvent(host.name, outcome.title, outcome.status, outcome.result, no_log=outcome.no_log,
                                ignored=bool(outcome.result.get("_hostprep_ignored")), handler=task.is_handler))
        elif outcome.result.get("failed") and outcome.result.get("_hostprep_ignored"):
            self.run.output.ignoring(host.name)  # once, after the items, as Ansible's callback
        apply_result(host, task, outcome, bool(scope.keyword(task, "ignore_unreachable")), also,
                     self.run.connections.state_for)

    def check_notified(self, task: Task, outcome: TaskOutcome) -> None:
        """A notified name no handler of the play answers ends the run, as in Ansible: when (and only when) a
        changed task notifies it, before its result is shown (handlers of roles included so far count)."""
        result = outcome.result
        if not (outcome.status == "changed" or (outcome.status == "ok" and outcome.loop and result.get("changed"))):
            return
        notify = task.kw("notify")
        known = {name for handler in self.play.handlers for name in handler_names(handler)}
        for name in [notify] if isinstance(notify, str) else notify or []:
            if str(name) not in known and not is_template(name):
                raise PlaybookError(f"The requested handler {str(name)!r} was not found in either the main handlers "
                                    "list nor in the listening handlers list")

    def run_task(self, host: HostState, task: Task, scope: Scope, title: str | None = None) -> None:
        self.finish(host, task, scope, self.execute(host, task, scope, title))

    def run_once_wanted(self, host: HostState, task: Task, scope: Scope) -> bool:
        if scope.keyword(task, "run_once") is None:
            return False
        prep = self.prep(host, task, scope)
        return prep.bool_kw(prep.templar(), "run_once")

    # -- facts ----------------------------------------------------------------------------
    def gather(self, host: HostState) -> None:
        if host.gathered:  # once per run (Ansible's smart gathering with its memory cache)
            return
        if self.options.gathering == "smart" and host.cache_gathered:  # facts from the persistent fact cache
            return
        try:
            become = play_become(self.run.play_vars, host)
            play_kw = {k: self.run.play_vars.for_play().render(self.play.kw(k))
                       for k in ("remote_user", "connection", "port") if self.play.kw(k) is not None}
            transport = self.run.connections.transport_for(host, None, play_kw)
            facts = self._gather_with_lookahead(host, transport, become)
            if facts is None:
                # a read: through the inner transport, so it does not count as a change of the host
                facts = gather_facts(transport.inner if isinstance(transport, ProbingTransport) else transport,
                                     become=become)
            if not self.options.no_fast_path:
                save_facts(host.name, host.inv_vars, facts)
        except UnreachableError as exc:
            host.unreachable = True
            host.stats.unreachable = 1
            self.emit(TaskEvent(host.name, GATHERING, "unreachable", {"msg": str(exc)}))
            return
        except TransportError as exc:  # e.g. a wrong become password: the host fails at its first contact
            host.failed = True
            host.stats.failed += 1
            self.emit(TaskEvent(host.name, GATHERING, "failed", {"msg": str(exc)}))
            return
        host.facts.update(facts)
        host.gathered = True
        if self.options.fact_cache is not None:
            self.save_cache(host)
        host.stats.ok += 1
        self.emit(TaskEvent(host.name, GATHERING, "ok", {"changed": False}))

    def save_cache(self, host: HostState) -> None:
        """The host's facts into ansible.cfg's persistent fact cache (one that cannot be written: a warning)."""
        try:
            save_cached_facts(host, self.options.fact_cache)
        except OSError as exc:
            self.run.output.warn(f"fact cache: {exc}")

    def _gather_with_lookahead(self, host: HostState, transport: Any, become: BecomeSpec) -> dict[str, Any] | None:
        """Facts and the whole play's probes in one round trip, guessing with last run's facts.

        The guess is only used where a later task asks for exactly the same probe, so facts that
        changed since the last run cost speed, never correctness.
        """
        if not isinstance(transport, ProbingTransport):
            return None
        cached = self.run.connections.last_facts(host)
        if cached is None:
            return None
        facts_req = ProbeRequest(facts_script(), become)
        try:
            ahead = self.run.lookahead.probes_from(host, 0, facts=cached)
        except Exception:  # noqa: BLE001 - a failed guess only costs speed
            ahead = []
        answers = transport.prefetch([facts_req, *ahead])
        res = answers.get(facts_req.key)
        if res is None or "@@end" not in res.stdout:
            return None
        return parse_facts(res.stdout)

    def host_done(self, host: HostState, started: float) -> None:
        """A host's play is over: its time, round trips, and (first run) its place in the fact cache."""
        host.stats.seconds += time.monotonic() - started
        if self.options.fact_cache is not None:
            self.save_cache(host)
        connections = self.run.connections
        if not self.options.no_fast_path and host.transport is not None and not host.facts \
                and connections.last_facts(host) is None:
            save_facts(host.name, host.inv_vars, {})  # seen: the next run may guess far ahead
            host.last_facts = {}
        # round trips: counted when a transport closes (Connections.transport_for on a reopen, close_all at the end)

    # -- includes -------------------------------------------------------------------------
    def expand(self, host: HostState, task: Task, scope: Scope) -> Expansion:
        """What an include_tasks/include_role brings in for this host (one entry per loop item).

        An include that cannot be loaded fails this host, as in Ansible.
        """
        try:
            return self._expand(host, task, scope)
        except InputError as exc:
            result = {"failed": True, "changed": False, "msg": str(exc)}
            self.emit(TaskEvent(host.name, task.display_name, "failed", result, handler=task.is_handler))
            host.stats.failed += 1
            host.failed = True
            host.last_failure = (task, result)
            return []

    def _expand(self, host: HostState, task: Task, scope: Scope) -> Expansion:
        host.included = []
        prep = self.prep(host, task, scope)
        templar = prep.templar()
        items = prep.loop_items(templar)
        if items is None:
            return self._expand_one(host, prep, templar, {}, None)
        lc = prep.loop_control()
        out: Expansion = []
        for index in range(len(items)):
            extra = loop_vars(lc, items, index)
            child = templar.child(extra)
            label = child.render(lc["label"], context=prep.context) if "label" in lc else items[index]
            out.extend(self._expand_one(host, prep, child, extra, label))
        return out

    def _expand_one(self, host: HostState, prep: TaskPrep, templar: Any, loop: dict[str, Any],
                    label: Any) -> Expansion:
        task, scope = prep.task, prep.scope
        if not prep.conditions_hold(templar):
            host.included.append(("", label))
            return []
        params = {**loop, **dict(templar.render(task.kw("vars") or {}, context=prep.context))}
        basedir = self.play.basedir
        if task.module == "include_tasks":
            items = task.included
            name = str(templar.render(task.args["file"], context=prep.context))
            ctx = LoadContext(basedir)
            src = TaskSource(Path(task.file or basedir / "x"), task.role)
            if items is None:
                items = load_included_tasks(name, task, ctx, src)
            host.included.append((included_path(name, task, ctx, src), label))
            return [(items, applied(scope.with_include(task, params), task))]
        role = task.included[0] if task.included else None
        if role is None:
            name = str(templar.render(task.args["name"], context=prep.context))
            role = LoadContext(basedir).load_role(name, tasks_from=task.args.get("tasks_from", "main"),
                                                  vars_from=task.args.get("vars_from", "main"),
                                                  defaults_from=task.args.get("defaults_from", "main"),
                                                  validate=to_bool(task.args.get("rolespec_validate", True),
                                                                   "rolespec_validate"))
        role = dataclasses.replace(role, params={**role.params, **params})
        if to_bool(templar.render(task.args.get("public", False), context=prep.context), "public"):
            self.run.play_vars.add_public_role(role)  # its variables are the play's from now on, as in Ansible
        order = include_order(self.play, role, host.roles_run)  # its dependencies first, as Ansible runs them
        with self._lock:  # a handler file loaded again (a dependency with other params) is not a second handler
            known = {(h.file, h.line) for h in self.play.handlers}
            for each in order:
                for h in each.handlers:
                    if h not in self.play.handlers and (h.file is None or (h.file, h.line) not in known):
                        self.play.handlers.append(h)
        host.included.append((role.name, label))
        return [(each.tasks, applied(scope.with_include(task, {}).with_role(each), task)) for each in order]

    def report_included(self, task: Task, title: str, hosts: list[HostState]) -> None:
        """Ansible's lines for an include step: `included: FILE for h1, h2` (one per file and item, hosts
        together), `skipping: [h]` where its condition was false; each entry counts as ok, a skip as skipped."""
        groups: dict[tuple[str, str], tuple[Any, list[str]]] = {}
        for host in hosts:
            for what, label in host.included:
                if not what:
                    host.stats.skipped += 1
                    self.emit(TaskEvent(host.name, title, "skipped", {"changed": False, "skipped": True},
                                        handler=task.is_handler))
                    continue
                host.stats.ok += 1
                groups.setdefault((what, repr(label)), (label, []))[1].append(host.name)
            host.included = []
        for (what, _), (label, names) in groups.items():
            self.run.output.included(what, names, label, title)

    # -- meta -----------------------------------------------------------------------------
    def meta(self, host: HostState, task: Task, scope: Scope, batch: list[HostState]) -> bool:
        """Carry out a meta action for one host; True when it is a handler flush (the strategy runs it)."""
        action = task.args["action"]
        prep = self.prep(host, task, scope)
        # as Ansible's linear strategy: a TASK [meta] header for every host it runs for; a false `when`
        # shows `skipping: [host]` under it (not counted as skipped)
        title = prep.title(prep.templar())
        self.run.output.header(title, path=written_at(task))
        if task.kw("when") is not None and not prep.conditions_hold(prep.templar(), [task.kw("when")]):
            self.run.output.event(TaskEvent(host.name, title, "skipped", {"changed": False, "skipped": True}))
            return False
        if action == "flush_handlers":
            self.run.output.verbose(f"META: triggered running handlers for {host.name}")
            return True
        if action == "end_host":
            host.ended = True
        elif action in ("end_play", "end_batch"):
            for other in batch:
                other.ended = True
        elif action == "clear_host_errors":
            host.failed = False
        elif action == "clear_facts":
            host.facts.clear()
        elif action == "reset_connection" and host.transport is not None:
            host.transport.close()
            host.transport = None
        return False

    # -- handlers -------------------------------------------------------------------------
    def flush(self, hosts: list[HostState],
              each: Callable[[list[HostState], Callable[[HostState], None]], None]) -> None:
        """Run the handlers the hosts notified, in the play's handler order, until none is notified.

        `each(hosts, work)` runs `work` for every host: at once under linear, in turn under free.
        """
        while True:
            hosts = [h for h in hosts if h.notified and not h.unreachable and (h.active or self.force_handlers)]
            for host in list(hosts):
                if self.cancelled(host):  # Ctrl-C: handlers do not start either
                    hosts.remove(host)
            if not hosts:
                return
            wanted = {h.name: list(h.notified) for h in hosts}
            for host in hosts:
                host.notified.clear()
            names = {n for notified in wanted.values() for n in notified}
            for handler, scope in notified_handlers(self.play, names):
                targets = [h for h in hosts if set(wanted[h.name]) & handler_names(handler)
                           and (h.active or self.force_handlers) and not h.unreachable]
                if not targets:
                    continue
                self.handler_started(handler, scope, targets)
                each(targets, lambda h, t=handler, s=scope: self.guarded(h, t, lambda: self.run_task(h, t, s)))

    def handler_started(self, handler: Task, scope: Scope, hosts: list[HostState]) -> None:
        """A handler starts on these hosts (the linear strategy prints its header here)."""

    # -- failures across the batch --------------------------------------------------------
    @staticmethod
    def rescued(failed: list[HostState], resume: Callable[[HostState], Any]) -> set[str]:
        """Which of the hosts that just failed a block's rescue takes over (`resume` moves each one on)."""
        out = set()
        for host in failed:
            before = host.rescues
            resume(host)
            if host.rescues > before:
                out.add(host.name)
        return out

    def batch_failed(self, batch: list[HostState], task: Task | None, scope: Scope | None,
                     newly_failed: list[HostState], rescued: set[str]) -> bool:
        """any_errors_fatal / max_fail_percentage after a step: True when the batch must stop.

        As in Ansible, a failure under any_errors_fatal stops every other host even when it is
        rescued (the rescuing host goes on), and max_fail_percentage counts the failures not
        rescued. The hosts stopped are marked failed, not counted in their stats, so that they take
        no part in the rest of the play nor in later plays.
        """
        if not newly_failed:
            return False
        value = None if task is None or scope is None else scope.keyword(task, "any_errors_fatal")
        fatal = value is not None and to_bool(value, "any_errors_fatal")
        mfp = self.play.kw("max_fail_percentage")
        if not fatal and mfp is not None and batch:
            failing = {h.name for h in newly_failed if h.name not in rescued}
            failed = sum(1 for h in batch if h.failed or h.unreachable or h.name in failing)
            fatal = failed * 100.0 / len(batch) > float(mfp)
        if fatal:
            for host in batch:
                if host.active and host not in newly_failed:
                    host.failed = True
        return fatal
