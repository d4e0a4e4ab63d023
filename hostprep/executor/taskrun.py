"""Running one task on one host: conditions, loop items, the module, until/retries, and the result.

`TaskRunner.run` returns a `TaskOutcome`; the strategy shows it and applies it (results.py).
Loop items are shown as they finish, as Ansible's callbacks do.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hostprep.errors import HostprepError, InputError, TransportError, UnreachableError
from hostprep.executor.prepare import TaskPrep, loop_vars
from hostprep.executor.profile import meter, record_task
from hostprep.executor.results import SKIP_REASON, TaskOutcome, status_of
from hostprep.executor.state import HostState
from hostprep.modules.base import TaskContext
from hostprep.output.events import TaskEvent, scrub
from hostprep.templating import Templar, TemplateError
from hostprep.templating.templar import UndefinedVariableError


class EnvTransport:
    """A transport that adds the task's `environment` to every command."""

    def __init__(self, inner: Any, env: dict[str, str]) -> None:
        self._inner = inner
        self._env = env
        self.name = inner.name

    @property
    def round_trips(self) -> int:
        return self._inner.round_trips

    def run(self, command: str, *, become=None, env=None, stdin=None, timeout=None):  # noqa: ANN001
        return self._inner.run(command, become=become, env={**self._env, **(env or {})}, stdin=stdin,
                               timeout=timeout)

    def probe(self, command: str, *, become=None, env=None):  # noqa: ANN001
        return self._ask("probe", command, become, env)

    def check(self, command: str, *, become=None, env=None):  # noqa: ANN001
        return self._ask("check", command, become, env)

    def _ask(self, kind: str, command: str, become: Any, env: Any) -> Any:
        merged_env = {**self._env, **(env or {})}
        ask = getattr(self._inner, kind, None)  # a plain transport has no probe/check: run it
        if ask is None:
            return self._inner.run(command, become=become, env=merged_env)
        return ask(command, become=become, env=merged_env)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@dataclass
class RunServices:
    """What a task needs from the run: connections, the output, and the Ctrl-C flag."""

    transport_for: Callable[[HostState, Any], Any]  # (host, delegate_to) -> transport
    emit: Callable[[TaskEvent], None]
    cancelled: threading.Event
    delegate_label: Callable[[Any], str] | None = None  # delegate_to -> the name shown as `[host -> NAME]`


class TaskRunner:
    """Runs one prepared task on one host; shows loop items as they finish; returns the outcome."""

    def __init__(self, prep: TaskPrep, services: RunServices, title: str | None = None) -> None:
        self.prep = prep
        self.services = services
        self.host = prep.host
        self.task = prep.task
        self.context = prep.context
        self._title = title

    def run(self) -> TaskOutcome:
        before = meter(self.host.transport)
        started = time.monotonic()
        outcome = self._run()
        record_task(self.host, outcome.title, outcome.status, time.monotonic() - started, before)
        return outcome

    def _run(self) -> TaskOutcome:
        prep, task = self.prep, self.task
        templar = prep.templar()
        title = self._title or prep.title(templar)
        self.host.current_title = title  # the progress display names tasks as they are shown
        no_log = prep.bool_kw(templar, "no_log")
        whens = prep.whens()
        try:
            items = prep.loop_items(templar)
        except (TemplateError, InputError) as exc:  # a loop that cannot be worked out fails this task, as in Ansible
            if isinstance(exc, UndefinedVariableError):  # unless (Ansible's loop_eval_error) a `when` is false
                try:
                    false = prep.false_condition(templar, whens)
                except (TemplateError, InputError):
                    false = None  # a `when` that cannot be evaluated either: the loop's error is the one shown
                if false is not None:
                    return TaskOutcome({"changed": False, "false_condition": false, "skipped": True,
                                        "skip_reason": SKIP_REASON}, title, no_log)
            failed = {"failed": True, "changed": False, "msg": str(exc)}
            if prep.bool_kw(templar, "ignore_errors"):
                failed["_hostprep_ignored"] = True
            return TaskOutcome(failed, title, no_log)
        if items is None:
            false = prep.false_condition(templar, whens)
            if false is not None:  # Ansible's skipped result names the condition that was false
                return TaskOutcome({"changed": False, "false_condition": false, "skipped": True,
                                    "skip_reason": SKIP_REASON}, title, no_log)
            return TaskOutcome(self._run_one(templar), title, no_log)
        lc = prep.loop_control()
        loop_var = lc.get("loop_var", "item")
        results = []
        # set_fact in a loop: each item sees the facts the items before it set (the `acc + [item]` idiom),
        # as in Ansible; extra vars still win over them
        facts_so_far: dict[str, Any] = {}
        for index, item in enumerate(items):
            if self.services.cancelled.is_set():  # Ctrl-C: no further item starts
                results.append({"failed": True, "interrupted": True, "changed": False, "msg": "interrupted (Ctrl-C)"})
                break
            item_templar = templar.child({**facts_so_far, **loop_vars(lc, items, index)})
            label = item_templar.render(lc["label"], context=self.context) if "label" in lc else item
            false = prep.false_condition(item_templar, whens)
            if false is not None:
                res = {"skipped": True, "changed": False, "false_condition": false, "skip_reason": SKIP_REASON}
            else:
                res = self._run_one(item_templar)
            res.update({loop_var: item, "ansible_loop_var": loop_var, "_ansible_item_label": label})
            self.services.emit(TaskEvent(self.host.name, title, status_of(res), res, item=label, is_item=True,
                                         no_log=no_log, ignored=bool(res.get("_hostprep_ignored")),
                                         handler=task.is_handler))
            results.append(res)
            if (res.get("_hostprep_set_fact") and not res.get("failed") and isinstance(res.get("ansible_facts"), dict)
                    and not res.get("_hostprep_facts_to")):
                facts_so_far.update({k: v for k, v in res["ansible_facts"].items()
                                     if k not in prep.options.extra_vars})
            if lc.get("pause") and not res.get("skipped"):
                time.sleep(float(lc["pause"]))
            if res.get("_hostprep_unreachable"):
                break
        # Ansible's loop result: `skipped: false` unless every item was skipped, `failed` only when one failed
        agg: dict[str, Any] = {"results": results, "msg": "All items completed",
                               "changed": any(r.get("changed") for r in results), "skipped": False,
                               "_hostprep_loop": True}
        failed = [r for r in results if r.get("failed")]
        if failed:  # the loop failed, ignored (counted once, `...ignoring` once) when every failed item was
            agg.update(failed=True, msg="One or more items failed")
            if all(r.get("_hostprep_ignored") for r in failed):
                agg["_hostprep_ignored"] = True
        if results and all(r.get("skipped") for r in results):
            agg["skipped"] = True
        if not results:
            agg["skipped"] = True
            agg["skipped_reason"] = "No items in the list"
        if any(r.get("_hostprep_unreachable") for r in results):
            agg["_hostprep_unreachable"] = True
            agg["unreachable"] = True
        # an empty loop is shown as one skipped result, as Ansible shows it
        return TaskOutcome(agg, title, no_log, loop=bool(results))

    # -- one execution (one item) ---------------------------------------------------------
    def _run_one(self, templar: Templar) -> dict[str, Any]:
        try:
            result = self._execute(templar)
        except UnreachableError as exc:
            result = {"unreachable": True, "msg": str(exc), "changed": False, "_hostprep_unreachable": True}
        except (TemplateError, InputError, TransportError, HostprepError) as exc:
            result = {"failed": True, "msg": str(exc), "changed": False}
        if not result.get("_hostprep_unreachable"):
            self._apply_conditions(templar, result)
            if self.task.kw("until") is not None:
                result = self._until(templar, result)
        if result.get("failed") and self.prep.bool_kw(templar, "ignore_errors"):
            result["_hostprep_ignored"] = True
        if self.task.kw("delegate_to") is not None and not result.get("skipped"):
            self._note_delegation(templar, result)
        return result

    def _note_delegation(self, templar: Templar, result: dict[str, Any]) -> None:
        """A delegated result names its delegate (Ansible's `ok: [web1 -> localhost]`); with delegate_facts,
        the host its facts go to."""
        try:
            target = self.prep.delegate(templar)
            to_delegate = isinstance(result.get("ansible_facts"), dict) and self.prep.bool_kw(templar, "delegate_facts")
        except (TemplateError, InputError):
            return  # the task has failed on it already
        if target in (None, "", self.host.name):
            return
        label = self.services.delegate_label
        result["_hostprep_delegated"] = label(target) if label is not None else str(target)
        if to_delegate:
            result["_hostprep_facts_to"] = str(target)  # delegate_facts: the facts are the delegate's

    def _apply_conditions(self, templar: Templar, result: dict[str, Any]) -> None:
        """changed_when / failed_when, evaluated with the registered result (on every until attempt)."""
        task = self.task
        register = task.kw("register")
        post = templar.child({register: result}) if register else templar.child({})
        try:
            if task.kw("changed_when") is not None:
                result["changed"] = post.is_true(task.kw("changed_when"), context=self.context)
            if task.kw("failed_when") is not None:
                result["failed_when_result"] = post.is_true(task.kw("failed_when"), context=self.context)
                result["failed"] = result["failed_when_result"]
        except TemplateError as exc:
            result["failed"] = True
            result["msg"] = str(exc)

    def _until(self, templar: Templar, result: dict[str, Any]) -> dict[str, Any]:
        task = self.task
        retries = int(templar.render(task.kw("retries", 3)))
        delay = float(templar.render(task.kw("delay", 5)))
        register = task.kw("register") or "result"
        attempt = 1
        while True:
            holds = templar.child({register: result}).is_true(task.kw("until"), context=self.context)
            result["attempts"] = attempt
            if holds:
                return result
            if attempt > retries:
                result["failed"] = True
                result.setdefault("msg", "Retries exhausted")
                return result
            if self.services.cancelled.is_set():  # Ctrl-C: no further attempt
                result.update(failed=True, interrupted=True, msg="interrupted (Ctrl-C) while retrying")
                return result
            time.sleep(delay)
            attempt += 1
            try:
                result = self._execute(templar)
            except UnreachableError as exc:
                return {"unreachable": True, "msg": str(exc), "_hostprep_unreachable": True}
            except (TemplateError, InputError, TransportError, HostprepError) as exc:
                result = {"failed": True, "msg": str(exc), "changed": False}
            self._apply_conditions(templar, result)

    def _execute(self, templar: Templar) -> dict[str, Any]:
        prep = self.prep
        module = prep.module()
        args = prep.args(module, templar)
        check = prep.check_mode(templar)
        if check and not module.supports_check_mode:
            return {"changed": False, "skipped": True, "msg": f"{self.task.module} does not support check mode"}
        become = prep.become(templar)
        transport = self.services.transport_for(self.host, prep.delegate(templar), prep.connection_keywords(templar))
        env = prep.environment(templar)
        if env:
            transport = EnvTransport(transport, env)
        # the `diff` keyword (task, block, role, play) over --diff, as in Ansible
        diff = prep.bool_kw(templar, "diff", prep.options.diff)
        ctx = TaskContext(
            transport=transport, host=self.host.name, check_mode=check, diff=diff,
            become=become, variables=templar.variables,
            render=lambda text: templar.render(text, context=self.context),
            render_file=lambda path: templar.render_file(path, context=self.context),
            find_file=prep.find_file, facts=self.host.facts, templar=templar,
            cancelled=self.services.cancelled, read_only=prep.read_only_check(module.name),
        )
        result = module.run(args, ctx)
        if diff and not prep.options.diff and result.get("diff"):
            result["_hostprep_show_diff"] = True  # `diff: true` on the task: shown without --diff
        secrets = [s for s in (become.password, self.host.inv_vars.get("ansible_password")) if s]
        for key in ("stdout", "stderr", "msg"):
            if isinstance(result.get(key), str) and secrets:
                result[key] = scrub(result[key], secrets)
        return result
