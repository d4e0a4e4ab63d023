"""Running plays: host batches (serial), a bounded pool of hosts, sections, blocks, handlers.

Each host walks the play's tasks on its own (one host's failure never stops the others);
a pool of `forks` workers bounds how many hosts are worked on at once.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hostprep.errors import HostprepError, InputError, TransportError, UnreachableError
from hostprep.executor.factcache import load_facts, save_facts
from hostprep.executor.lookahead import checks_ahead, position, probes_ahead, static_walk
from hostprep.executor.probebatch import ProbeRequest
from hostprep.executor.prober import ProbingTransport
from hostprep.executor.scope import Scope, tags_selected
from hostprep.executor.state import UNREAD, HostState, HostVars, RunOptions
from hostprep.executor.taskrun import TaskRunner
from hostprep.inventory import Inventory
from hostprep.modules.base import to_bool
from hostprep.output.events import HostStats, TaskEvent
from hostprep.playbook.model import Block, Play, Playbook, Role, Task
from hostprep.templating import Templar, TemplateError
from hostprep.transport.base import BecomeSpec
from hostprep.transport.connect import become_from_vars, open_transport
from hostprep.transport.local import LocalTransport
from hostprep.yamlsource import load_yaml_file


class PlayRunner:
    """Runs one play over its hosts."""

    def __init__(self, playbook_runner: PlaybookRunner, play: Play) -> None:
        self.pb = playbook_runner
        self.play = play
        self.options = playbook_runner.options
        self.inventory = playbook_runner.inventory
        self._vars_files_cache: dict[str, dict[str, Any]] = {}
        self._once: dict[int, dict[str, Any]] = {}
        self._once_lock = threading.Lock()
        self.play_hosts: list[str] = []
        self.batch: list[str] = []
        self._walk: list[tuple[Task, Scope]] | None = None

    # -- shared services for TaskRunner --------------------------------------------------
    def emit(self, event: TaskEvent) -> None:
        self.pb.output.event(event)

    def magic_vars(self, host: HostState, role: Role | None) -> dict[str, Any]:
        magic = {
            "hostvars": self.pb.hostvars,
            "inventory_hostname": host.name,
            "inventory_hostname_short": host.name.split(".")[0],
            "group_names": host.inv_vars.get("group_names", []),
            "groups": host.inv_vars.get("groups", {}),
            "play_hosts": list(self.batch),
            "ansible_play_hosts": [h for h in self.play_hosts if self.pb.state_for(h).active],
            "ansible_play_hosts_all": list(self.play_hosts),
            "ansible_play_batch": list(self.batch),
            "ansible_play_name": self.play.name,
            "playbook_dir": str(self.play.basedir),
            "ansible_check_mode": self.options.check,
            "ansible_diff_mode": self.options.diff,
            "ansible_run_tags": sorted(self.options.tags) or ["all"],
            "ansible_skip_tags": sorted(self.options.skip_tags),
            "ansible_version": {"full": "2.16.0", "major": 2, "minor": 16, "revision": 0, "string": "2.16.0"},
            "hostprep_version": __import__("hostprep").__version__,
        }
        if role is not None:
            magic.update(role_name=role.name, role_path=str(role.path))
        return magic

    def vars_files_vars(self, host: HostState) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for entry in self.play.vars_files:
            candidates = entry if isinstance(entry, list) else [entry]
            for cand in candidates:
                name = str(cand)
                if "{{" in name:
                    name = str(Templar({**host.inv_vars, **self.options.extra_vars, **self.play.vars}).render(name))
                path = Path(name) if Path(name).is_absolute() else self.play.basedir / name
                if path.exists():
                    if str(path) not in self._vars_files_cache:
                        data = load_yaml_file(path) or {}
                        if not isinstance(data, Mapping):
                            raise InputError("a vars file must hold a mapping", file=str(path))
                        self._vars_files_cache[str(path)] = dict(data)
                    out.update(self._vars_files_cache[str(path)])
                    break
            else:
                raise InputError(f"none of the vars files {candidates} was found", file=self.play.file,
                                 key="vars_files")
        return out

    def transport_for(self, host: HostState, delegate: Any) -> Any:
        if delegate in (None, "", host.name):
            if host.transport is None:
                transport = open_transport(host.name, host.inv_vars, self.options.connection)
                if not self.options.no_fast_path:
                    transport = ProbingTransport(transport)
                    transport.lookahead = lambda limit=None: self.probes_ahead(host, limit)
                    transport.checks_ahead = lambda: self.checks_ahead(host)
                    if self.last_facts(host) is None:
                        transport.expect_changes()  # a host never seen before: most tasks will change it
                host.transport = transport
            return host.transport
        if delegate in ("localhost", "127.0.0.1"):
            return LocalTransport("localhost")
        target = self.pb.states.get(str(delegate))
        if target is None:
            if str(delegate) not in self.inventory.hosts:
                raise InputError(f"delegate_to: unknown host {delegate!r}")
            target = self.pb.state_for(str(delegate))
        return self.transport_for(target, None)

    def last_facts(self, host: HostState) -> dict[str, Any] | None:
        """Last run's facts of the host (read from the fact cache once per run), None if never seen."""
        if host.last_facts is UNREAD:
            host.last_facts = load_facts(host.name, host.inv_vars)
        return host.last_facts

    def walk(self) -> list[tuple[Task, Scope]]:
        """The play's tasks in walking order (built once, shared by every host)."""
        with self._once_lock:
            if self._walk is None:
                self._walk = static_walk(self.play)
            return self._walk

    def probes_ahead(self, host: HostState, limit: int | None = None) -> list[ProbeRequest]:
        """The fast path's guess: the probes of the running task and of every task after it."""
        if host.current_task is None:
            return []
        walk = self.walk()
        pos = position(walk, host.current_task, host.walk_pos)
        if pos is None:
            return []
        host.walk_pos = pos
        return probes_ahead(self, host, walk, pos, limit=limit)

    def checks_ahead(self, host: HostState) -> list[ProbeRequest]:
        """The read-only checks right after the running one (they share its round trip)."""
        if host.current_task is None:
            return []
        walk = self.walk()
        pos = position(walk, host.current_task, host.walk_pos)
        return [] if pos is None else checks_ahead(self, host, walk, pos + 1)

    # -- the play ------------------------------------------------------------------------
    def run(self) -> None:
        pattern = self.play.hosts
        if isinstance(pattern, list):
            pattern = ",".join(map(str, pattern))
        pattern = str(Templar(self.options.extra_vars).render(str(pattern)))
        names = [h.name for h in self.inventory.select(pattern)]
        if self.options.limit:
            allowed = {h.name for h in self.inventory.select(self.options.limit)}
            names = [n for n in names if n in allowed]
        if self.pb.cancelled.is_set():  # Ctrl-C: a later play does not start; its hosts did not finish
            for name in names:
                self._cancelled(self.pb.state_for(name))
            return
        self.pb.output.play(self.play.name)
        if not names:
            self.pb.output.warn("no hosts matched the play's hosts and --limit")
            return
        self.play_hosts = names
        for batch in self._batches(names):
            self.batch = batch
            states = [self.pb.state_for(n) for n in batch if self.pb.state_for(n).active]
            with ThreadPoolExecutor(max_workers=max(1, min(self.options.forks, len(states) or 1))) as pool:
                list(pool.map(self._run_host, states))
            failed = [s for s in (self.pb.state_for(n) for n in batch) if s.failed or s.unreachable]
            mfp = self.play.kw("max_fail_percentage")
            if mfp is not None and batch and len(failed) * 100.0 / len(batch) > float(mfp):
                self.pb.output.warn(f"max_fail_percentage {mfp}% exceeded in a batch: stopping the play")
                break
            if failed and to_bool(self.play.kw("any_errors_fatal", False)):
                break

    def _batches(self, names: list[str]) -> list[list[str]]:
        serial = self.play.kw("serial")
        if serial is None:
            return [names]
        sizes = serial if isinstance(serial, list) else [serial]
        out, i, k = [], 0, 0
        while i < len(names):
            spec = sizes[min(k, len(sizes) - 1)]
            if isinstance(spec, str) and spec.strip().endswith("%"):
                size = max(1, math.floor(len(names) * float(spec.strip()[:-1]) / 100))
            else:
                size = int(spec) if int(spec) > 0 else len(names)
            out.append(names[i:i + size])
            i += size
            k += 1
        return out

    def _run_host(self, host: HostState) -> None:
        started = time.monotonic()
        try:
            if self._cancelled(host):  # Ctrl-C before this host started
                return
            self._gather(host)
            scope = Scope(self.play)
            sections = [("pre_tasks", self.play.pre_tasks)]
            for _name, items in sections:
                self.run_items(host, items, scope)
                self.flush_handlers(host)
            if host.active:
                for role in self.play.roles:
                    if role.when is not None:
                        pass  # role.when is applied to each of its tasks through the scope
                    self.run_items(host, role.tasks, scope.with_role(role))
                self.run_items(host, self.play.tasks, scope)
                self.flush_handlers(host)
            self.run_items(host, self.play.post_tasks, scope)
            self.flush_handlers(host)
        except UnreachableError as exc:
            host.unreachable = True
            host.stats.unreachable = 1
            self.emit(TaskEvent(host.name, "connect", "unreachable", {"msg": str(exc)}))
        except HostprepError as exc:
            host.failed = True
            host.stats.failed += 1
            self.emit(TaskEvent(host.name, "error", "failed", {"msg": str(exc)}))
        except Exception as exc:  # noqa: BLE001 - one host's internal error must not stop the others
            import traceback

            host.failed = True
            host.stats.failed += 1
            self.emit(TaskEvent(host.name, "internal error", "failed",
                                {"msg": f"hostprep internal error: {type(exc).__name__}: {exc}",
                                 "exception": traceback.format_exc()}))
        finally:
            host.stats.seconds += time.monotonic() - started
            if not self.options.no_fast_path and host.transport is not None and not host.facts \
                    and self.last_facts(host) is None:
                save_facts(host.name, host.inv_vars, {})  # seen: the next run may guess far ahead
                host.last_facts = {}
            if host.transport is not None:
                host.stats.round_trips = host.transport.round_trips

    def _gather(self, host: HostState) -> None:
        gather = self.play.kw("gather_facts", True)
        if not to_bool(Templar(self.options.extra_vars).render(gather), "gather_facts") or host.facts:
            return
        from hostprep.facts import gather_facts

        self.pb.output.header("Gathering Facts")
        try:
            become = self._gather_become(host)
            transport = self.transport_for(host, None)
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
            self.emit(TaskEvent(host.name, "Gathering Facts", "unreachable", {"msg": str(exc)}))
            return
        except TransportError as exc:  # e.g. a wrong become password: the host fails at its first contact
            host.failed = True
            host.stats.failed += 1
            self.emit(TaskEvent(host.name, "Gathering Facts", "failed", {"msg": str(exc)}))
            return
        host.facts.update(facts)
        host.stats.ok += 1
        self.emit(TaskEvent(host.name, "Gathering Facts", "ok", {"changed": False}))

    def _gather_become(self, host: HostState) -> BecomeSpec:
        """The play's become, with which facts are gathered (as Ansible does).

        ansible_become* variables beat the play's keywords, which beat -b/--become-user/-K.
        """
        variables = {**host.inv_vars, **self.play.vars, **self.options.extra_vars}
        templar = Templar(variables)
        hv = {k: templar.render(v) for k, v in variables.items() if k.startswith("ansible_become")}
        hv = {**host.inv_vars, **hv}

        def keyword(name: str) -> Any:
            value = self.play.kw(name)
            return None if value is None else templar.render(value)

        for name, var in (("become_method", "ansible_become_method"), ("become_flags", "ansible_become_flags")):
            if var not in hv and keyword(name) is not None:
                hv[var] = keyword(name)
        enabled = None if "ansible_become" in hv or keyword("become") is None else to_bool(keyword("become"),
                                                                                          "become")
        user = hv.get("ansible_become_user") or keyword("become_user")
        return become_from_vars(hv, enabled=enabled, user=None if user is None else str(user),
                                cli=self.options.connection)

    def _gather_with_lookahead(self, host: HostState, transport: Any, become: BecomeSpec | None = None,
                               ) -> dict[str, Any] | None:
        """Facts and the whole play's probes in one round trip, guessing with last run's facts.

        The guess is only used where a later task asks for exactly the same probe, so facts that
        changed since the last run cost speed, never correctness.
        """
        if not isinstance(transport, ProbingTransport):
            return None
        cached = self.last_facts(host)
        if cached is None:
            return None
        from hostprep.facts import facts_script, parse_facts

        facts_req = ProbeRequest(facts_script(), become)
        try:
            ahead = probes_ahead(self, host, self.walk(), 0, facts=cached)
        except Exception:  # noqa: BLE001 - a failed guess only costs speed
            ahead = []
        answers = transport.prefetch([facts_req, *ahead])
        res = answers.get(facts_req.key)
        if res is None or "@@end" not in res.stdout:
            return None
        return parse_facts(res.stdout)

    # -- walking task lists ---------------------------------------------------------------
    def run_items(self, host: HostState, items: list[Any], scope: Scope) -> None:
        for item in items:
            if not host.active:
                return
            if isinstance(item, Block):
                self.run_block(host, item, scope)
            else:
                self.run_task(host, item, scope)

    def run_block(self, host: HostState, block: Block, scope: Scope) -> None:
        bscope = scope.with_block(block)
        self.run_items(host, block.block, bscope)
        if host.failed and not host.unreachable and block.rescue:
            failure = getattr(host, "last_failure", None)
            host.failed = False
            host.stats.failed = max(0, host.stats.failed - 1)
            host.stats.rescued += 1
            if failure:
                host.set_facts["ansible_failed_task"] = {"name": failure[0].name, "action": failure[0].module}
                host.set_facts["ansible_failed_result"] = {k: v for k, v in failure[1].items()
                                                           if not k.startswith("_hostprep")}
            self.run_items(host, block.rescue, bscope)
        if block.always and not host.unreachable and not host.ended:
            was_failed = host.failed
            host.failed = False
            self.run_items(host, block.always, bscope)
            host.failed = host.failed or was_failed

    def run_task(self, host: HostState, task: Task, scope: Scope) -> None:
        if not tags_selected(scope.task_tags(task), self.options.tags, self.options.skip_tags) \
                and task.module not in ("include_tasks", "include_role"):
            return
        if self._cancelled(host):  # Ctrl-C: no new task starts
            return
        if task.module == "meta":
            self._meta(host, task, scope)
            return
        if task.module in ("include_tasks", "include_role"):
            self._include(host, task, scope)
            return
        runner = TaskRunner(self, host, task, scope)
        host.current_task = task
        if scope.keyword(task, "run_once"):
            self._run_once(host, task, scope, runner)
        else:
            runner.run()
        if not host.active and not host.ended:
            self._check_batch_failures()

    def _check_batch_failures(self) -> None:
        """max_fail_percentage / any_errors_fatal: stop the whole batch once too many hosts failed."""
        mfp = self.play.kw("max_fail_percentage")
        fatal = to_bool(self.play.kw("any_errors_fatal", False))
        if mfp is None and not fatal:
            return
        states = [self.pb.state_for(n) for n in self.batch]
        failed = sum(1 for s in states if s.failed or s.unreachable)
        if fatal and failed or (mfp is not None and failed * 100.0 / len(states) > float(mfp)):
            for s in states:
                s.ended = True

    def _run_once(self, host: HostState, task: Task, scope: Scope, runner: TaskRunner) -> None:
        with self._once_lock:
            first = task.uid not in self._once
            if first:
                self._once[task.uid] = {"event": threading.Event(), "result": None}
            slot = self._once[task.uid]
        if first:
            try:
                slot["result"] = runner.run()
            finally:
                slot["event"].set()
            return
        slot["event"].wait()
        name = task.kw("register")
        if name and slot["result"] is not None:
            host.set_facts[name] = slot["result"]

    def _include(self, host: HostState, task: Task, scope: Scope) -> None:
        from hostprep.executor.taskrun import _loop_items

        runner = TaskRunner(self, host, task, scope)
        templar = runner.templar()
        items = _loop_items(templar, task, runner.context)
        try:
            if items is None:
                self._include_one(host, task, scope, runner, templar, {})
                return
            lc = task.kw("loop_control") or {}
            loop_var = lc.get("loop_var", "item")
            for index, item in enumerate(items):
                extra = {loop_var: item}
                if lc.get("index_var"):
                    extra[lc["index_var"]] = index
                self._include_one(host, task, scope, runner, templar.child(extra), extra)
                if not host.active:
                    return
        except InputError as exc:  # a dynamic include that cannot be loaded fails this host, as in Ansible
            result = {"failed": True, "changed": False, "msg": str(exc)}
            self.emit(TaskEvent(host.name, task.display_name, "failed", result, handler=task.is_handler))
            host.stats.failed += 1
            host.failed = True
            host.last_failure = (task, result)  # type: ignore[attr-defined]

    def _include_one(self, host: HostState, task: Task, scope: Scope, runner: TaskRunner, templar: Templar,
                     loop_vars: dict[str, Any]) -> None:
        whens = [*scope.whens, task.kw("when")] if task.kw("when") is not None else list(scope.whens)
        if not all(templar.is_true(w, context=runner.context) for w in whens if w is not None):
            return
        from hostprep.playbook.loader import LoadContext
        from hostprep.playbook.tasks import TaskSource, load_included_tasks

        params = {**loop_vars, **dict(templar.render(task.kw("vars") or {}, context=runner.context))}
        if task.module == "include_tasks":
            items = task.included
            if items is None:
                name = str(templar.render(task.args["file"], context=runner.context))
                ctx = LoadContext(self.play.basedir)
                src = TaskSource(Path(task.file or self.play.basedir / "x"), task.role)
                items = load_included_tasks(name, task, ctx, src)
            self.run_items(host, items, scope.with_include(task, params))
            return
        role = task.included[0] if task.included else None
        if role is None:
            name = str(templar.render(task.args["name"], context=runner.context))
            role = LoadContext(self.play.basedir).load_role(name, tasks_from=task.args.get("tasks_from", "main"),
                                                            vars_from=task.args.get("vars_from", "main"),
                                                            defaults_from=task.args.get("defaults_from", "main"))
        role = dataclasses.replace(role, params={**role.params, **params})
        with self._once_lock:
            for h in role.handlers:
                if h not in self.play.handlers:
                    self.play.handlers.append(h)
        self.run_items(host, role.tasks, scope.with_include(task, {}).with_role(role))

    def _meta(self, host: HostState, task: Task, scope: Scope) -> None:
        action = task.args["action"]
        runner = TaskRunner(self, host, task, scope)
        if task.kw("when") is not None and not runner.templar().is_true(task.kw("when"), context=runner.context):
            return
        if action == "flush_handlers":
            self.flush_handlers(host)
        elif action == "end_host":
            host.ended = True
        elif action == "end_play" or action == "end_batch":
            for name in self.batch:
                self.pb.state_for(name).ended = True
        elif action == "clear_host_errors":
            host.failed = False
        elif action == "clear_facts":
            host.facts.clear()
        elif action == "reset_connection" and host.transport is not None:
            host.transport.close()
            host.transport = None

    def _cancelled(self, host: HostState) -> bool:
        """After Ctrl-C (PlaybookRunner.cancelled) a host starts nothing new and is reported as not finished."""
        if not self.pb.cancelled.is_set():
            return False
        host.ended = True
        host.stats.interrupted = True
        return True

    def flush_handlers(self, host: HostState) -> None:
        while host.notified and (host.active or to_bool(self.play.kw("force_handlers", False))):
            if self._cancelled(host):  # Ctrl-C: handlers do not start either
                return
            notified = list(host.notified)
            host.notified.clear()
            for handler in self.play.handlers:
                names = {str(handler.name)} if handler.name else set()
                if handler.role is not None and handler.name:
                    names.add(f"{handler.role.name} : {handler.name}")
                listen = handler.kw("listen")
                if listen:
                    names.update([listen] if isinstance(listen, str) else map(str, listen))
                if names & set(notified):
                    if not host.active and not to_bool(self.play.kw("force_handlers", False)):
                        return
                    TaskRunner(self, host, handler, Scope(self.play, handler.role, handler=True)).run()


class PlaybookRunner:
    """Runs every play of a playbook and keeps the per-host results for the recap."""

    def __init__(self, playbook: Playbook, inventory: Inventory, options: RunOptions, output: Any) -> None:
        self.playbook = playbook
        self.inventory = inventory
        self.options = options
        self.output = output
        self.states: dict[str, HostState] = {}
        self._states_lock = threading.Lock()
        self.cancelled = threading.Event()  # set on Ctrl-C (cli/interrupt.py): no new task or step starts
        self.hostvars = HostVars(self.states, inventory, playbook.basedir)

    def state_for(self, name: str) -> HostState:
        with self._states_lock:
            if name not in self.states:
                self.states[name] = HostState(name, self.inventory.host_vars(name, self.playbook.basedir))
            return self.states[name]

    def run(self) -> dict[str, HostStats]:
        try:
            for play in self.playbook.plays:
                for state in self.states.values():
                    state.ended = False
                PlayRunner(self, play).run()
        finally:
            for state in self.states.values():
                if state.transport is not None:
                    state.stats.round_trips = state.transport.round_trips
                    try:
                        state.transport.close()
                    except Exception:  # noqa: BLE001 - closing must not hide the run's result
                        pass
        stats = {name: s.stats for name, s in self.states.items()}
        self.output.recap(stats)
        return stats


def exit_code(stats: dict[str, HostStats], detailed: bool) -> int:
    """0 ok; 2 changed (with --detailed-exitcode); 1 a task failed; 4 a host unreachable (none failed)."""
    if any(s.failed for s in stats.values()):
        return 1
    if any(s.unreachable for s in stats.values()):
        return 4
    if detailed and any(s.changed for s in stats.values()):
        return 2
    return 0


__all__ = ["PlaybookRunner", "RunOptions", "exit_code", "TemplateError"]
