"""Running one task on one host: variables, conditions, loops, the module, and the result."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hostprep.errors import HostprepError, InputError, TransportError, UnreachableError
from hostprep.executor.lookahead import is_check
from hostprep.executor.probebatch import ProbeRequest
from hostprep.executor.scope import Scope, merged
from hostprep.executor.state import HostState, fact_vars
from hostprep.modules import get_module
from hostprep.modules.base import TaskContext, to_bool
from hostprep.output.events import TaskEvent, scrub
from hostprep.playbook.model import Role, Task
from hostprep.templating import OMIT, Templar, TemplateError, run_lookup
from hostprep.transport.base import BecomeSpec
from hostprep.transport.connect import become_from_vars

if TYPE_CHECKING:
    from hostprep.executor.play import PlayRunner

SKIP_REASON = "Conditional result was False"
_BECOME_VARS = ("ansible_become", "ansible_become_user", "ansible_become_password", "ansible_become_pass",
                "ansible_become_method", "ansible_become_flags")


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
        ask = getattr(self._inner, kind, None)
        if ask is None:
            return self._inner.run(command, become=become, env=merged_env)
        return ask(command, become=become, env=merged_env)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def role_layers(runner: PlayRunner, role: Role | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(defaults, vars) visible to a task: every play role's, the task's own role on top."""
    defaults: dict[str, Any] = {}
    role_vars: dict[str, Any] = {}
    for r in runner.play.roles:
        if r is not role:
            defaults.update(r.defaults)
            role_vars.update(r.vars)
    if role is not None:
        defaults.update(role.defaults)
        role_vars.update(role.vars)
    return defaults, role_vars


def task_variables(runner: PlayRunner, host: HostState, task: Task, scope: Scope) -> Any:
    """All variables for `task` on `host`, by Ansible's precedence (lowest first)."""
    role = task.role or scope.role
    defaults, role_vars = role_layers(runner, role)
    block_vars: dict[str, Any] = {}
    for layer in scope.block_vars:
        block_vars.update(layer)
    role_params = {k: v for k, v in (role.params if role else {}).items() if not k.startswith("__kw_")}
    magic = runner.magic_vars(host, role)
    return merged(
        defaults, host.inv_vars, fact_vars(host.facts, host.module_facts), runner.play.vars,
        runner.vars_files_vars(host), role_vars, block_vars, dict(task.kw("vars") or {}), host.include_vars,
        host.set_facts, role_params, scope.include_params, magic, runner.options.extra_vars,
    )


def _find_file(runner: PlayRunner, role: Role | None, name: str, kind: str) -> Path:
    path = Path(name)
    if path.is_absolute():
        if path.exists():
            return path
        raise InputError(f"{kind[:-1]} {name!r} not found")
    candidates = []
    if role is not None:
        candidates += [role.path / kind / name, role.path / name]
    base = runner.play.basedir
    candidates += [base / kind / name, base / name]
    for c in candidates:
        if c.exists():
            return c
    raise InputError(f"could not find {kind[:-1]} {name!r} (looked in {', '.join(str(c.parent) for c in candidates)})")


def _loop_items(templar: Templar, task: Task, context: str) -> list[Any] | None:
    if "loop" in task.keywords:
        items = templar.render(task.kw("loop"), context=context)
        if isinstance(items, str) or not isinstance(items, (list, tuple)):
            raise TemplateError(f"loop needs a list, got {type(items).__name__} (in {context})")
        return list(items)
    for key, value in task.keywords.items():
        if key.startswith("with_"):
            terms = templar.render(value, context=context)
            name = key[5:]
            if name == "items":
                terms = terms if isinstance(terms, list) else [terms]
                return run_lookup(templar, "items", *terms)
            if name in ("dict",):
                return run_lookup(templar, name, terms)
            if isinstance(terms, list) and name in ("list", "indexed_items", "together", "flattened", "fileglob",
                                                    "first_found"):
                if name == "together":
                    return run_lookup(templar, name, *terms)
                return run_lookup(templar, name, *terms) if name != "list" else list(terms)
            return run_lookup(templar, name, terms)
    return None


def _drop_omitted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_omitted(v) for k, v in value.items() if v is not OMIT}
    if isinstance(value, list):
        return [_drop_omitted(v) for v in value if v is not OMIT]
    return value


def _loop_vars(loop_control: Mapping[str, Any], items: list[Any], index: int) -> dict[str, Any]:
    """The variables of one loop item: the loop var, index_var, ansible_loop_var and ansible_loop."""
    loop_var = loop_control.get("loop_var", "item")
    out = {loop_var: items[index], "ansible_loop_var": loop_var,
           "ansible_loop": {"index": index + 1, "index0": index, "first": index == 0,
                            "last": index == len(items) - 1, "length": len(items)}}
    if loop_control.get("index_var"):
        out[loop_control["index_var"]] = index
    return out


class TaskRunner:
    """Runs one task on one host and reports its events."""

    def __init__(self, runner: PlayRunner, host: HostState, task: Task, scope: Scope) -> None:
        self.runner = runner
        self.host = host
        self.task = task
        self.scope = scope
        self.role = task.role or scope.role
        self.context = f"task '{task.display_name}' ({task.where})"

    def templar(self) -> Templar:
        variables = task_variables(self.runner, self.host, self.task, self.scope)
        search = [self.role.path / "templates"] if self.role else []
        search += [self.runner.play.basedir / "templates", self.runner.play.basedir]
        if self.role:
            search.insert(0, self.role.path)
        return Templar(variables, searchpath=search)

    def _kw(self, templar: Templar, key: str, default: Any = None) -> Any:
        value = self.scope.keyword(self.task, key, default)
        return templar.render(value, context=self.context) if value is not None else default

    def _bool_kw(self, templar: Templar, key: str, default: bool = False) -> bool:
        value = self._kw(templar, key, None)
        return default if value is None else to_bool(value, key)

    # -- entry ----------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Run the task; returns the (registered) result. Emits events; updates host state."""
        templar = self.templar()
        self.title = self.task.display_name
        if self.task.name and "{" in str(self.task.name):
            try:
                rendered = str(templar.render(self.task.name))
                self.title = f"{self.role.name} : {rendered}" if self.task.role else rendered
            except TemplateError:
                pass
        no_log = self._bool_kw(templar, "no_log")
        whens = [*self.scope.whens, self.task.kw("when")] if self.task.kw("when") is not None else \
            list(self.scope.whens)
        items = _loop_items(templar, self.task, self.context)
        if items is None:
            if not self._conditions_hold(templar, whens):
                return self._skipped(no_log)
            result = self._run_once(templar, None, no_log)
            self._finish(result, no_log)
            return result
        # a loop: one result per item, then an aggregate
        lc = self.task.kw("loop_control") or {}
        loop_var = lc.get("loop_var", "item")
        results = []
        for index, item in enumerate(items):
            if self.runner.pb.cancelled.is_set():  # Ctrl-C: no further item starts
                results.append({"failed": True, "interrupted": True, "changed": False, "msg": "interrupted (Ctrl-C)"})
                break
            extra = _loop_vars(lc, items, index)
            item_templar = templar.child(extra)
            label = item_templar.render(lc["label"], context=self.context) if "label" in lc else item
            if not self._conditions_hold(item_templar, whens):
                res = {"skipped": True, "changed": False, "skip_reason": SKIP_REASON, loop_var: item,
                       "ansible_loop_var": loop_var, "_ansible_item_label": label}
                self.runner.emit(TaskEvent(self.host.name, self.title, "skipped", res, item=label,
                                           is_item=True, no_log=no_log, handler=self.task.is_handler))
                results.append(res)
                continue
            res = self._run_once(item_templar, extra, no_log, item_label=label)
            res[loop_var] = item
            res["ansible_loop_var"] = loop_var
            res["_ansible_item_label"] = label
            results.append(res)
            if lc.get("pause"):
                time.sleep(float(lc["pause"]))
            if res.get("_hostprep_unreachable"):
                break
        agg: dict[str, Any] = {"results": results, "msg": "All items completed",
                               "changed": any(r.get("changed") for r in results),
                               "failed": any(r.get("failed") and not r.get("_hostprep_ignored") for r in results)}
        if results and all(r.get("skipped") for r in results):
            agg["skipped"] = True
        if not results:
            agg["skipped"] = True
            agg["skipped_reason"] = "No items in the list"
        if any(r.get("_hostprep_unreachable") for r in results):
            agg["_hostprep_unreachable"] = True
            agg["unreachable"] = True
        self._finish(agg, no_log, loop=True)
        return agg

    def _conditions_hold(self, templar: Templar, whens: list[Any]) -> bool:
        return all(templar.is_true(w, context=self.context) for w in whens if w is not None)

    def _skipped(self, no_log: bool) -> dict[str, Any]:
        res = {"changed": False, "skipped": True, "skip_reason": SKIP_REASON}
        self.runner.emit(TaskEvent(self.host.name, self.title, "skipped", res, no_log=no_log,
                                   handler=self.task.is_handler))
        self.host.stats.skipped += 1
        self._register(res)
        return res

    # -- one execution (one item) ---------------------------------------------------------
    def _run_once(self, templar: Templar, extra: dict | None, no_log: bool, item_label: Any = None) -> dict:
        task = self.task
        ignore_errors = self._bool_kw(templar, "ignore_errors")
        try:
            result = self._execute(templar)
        except UnreachableError as exc:
            result = {"unreachable": True, "msg": str(exc), "changed": False, "_hostprep_unreachable": True}
        except (TemplateError, InputError) as exc:
            result = {"failed": True, "msg": str(exc), "changed": False}
        except (TransportError, HostprepError) as exc:
            result = {"failed": True, "msg": str(exc), "changed": False}
        if not result.get("_hostprep_unreachable"):
            self._apply_conditions(templar, result)
            if task.kw("until") is not None:
                result = self._until(templar, result)
        if result.get("failed") and ignore_errors:
            result["_hostprep_ignored"] = True
        if extra is not None:
            status = self._status(result)
            self.runner.emit(TaskEvent(self.host.name, self.title, status, result, item=item_label,
                                       is_item=True, no_log=no_log, ignored=bool(result.get("_hostprep_ignored")),
                                       handler=task.is_handler))
        return result

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
            if self.runner.pb.cancelled.is_set():  # Ctrl-C: no further attempt
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

    def _apply_facts(self, result: Mapping[str, Any]) -> None:
        """Store facts a result returned at the precedence its module asks for."""
        facts = result.get("ansible_facts")
        if not isinstance(facts, Mapping) or result.get("failed"):
            return
        if result.get("_hostprep_include_vars"):
            self.host.include_vars.update(facts)
        elif result.get("_hostprep_set_fact"):
            self.host.set_facts.update(facts)
        else:
            self.host.facts.update(facts)
            if not result.get("_hostprep_gathered"):
                self.host.module_facts.update(str(k) for k in facts)

    def _status(self, result: dict[str, Any]) -> str:
        if result.get("_hostprep_unreachable"):
            return "unreachable"
        if result.get("failed"):
            return "failed"
        if result.get("skipped"):
            return "skipped"
        return "changed" if result.get("changed") else "ok"

    def _execute(self, templar: Templar) -> dict[str, Any]:
        task = self.task
        cls = get_module(task.module)
        if cls is None:
            raise InputError(task.unsupported or f"unknown module {task.module!r}", file=task.file, line=task.line,
                             key=task.module)
        module = cls()
        args = _drop_omitted(templar.render(task.args, context=self.context))
        try:
            args = module.validate(args)
        except InputError as exc:
            raise InputError(f"{exc.message} ({self.context})", file=task.file, line=task.line,
                             key=exc.key) from None
        check = self.runner.options.check
        task_check = self._kw(templar, "check_mode")
        if task_check is not None:
            check = to_bool(task_check, "check_mode")
        if check and not module.supports_check_mode:
            return {"changed": False, "skipped": True, "msg": f"{task.module} does not support check mode"}
        variables = templar.variables
        become = self.become(templar)
        delegate = self._kw(templar, "delegate_to")
        transport = self.runner.transport_for(self.host, delegate)
        env = self.environment(templar)
        if env:
            transport = EnvTransport(transport, env)
        ctx = TaskContext(
            transport=transport, host=self.host.name, check_mode=check, diff=self.runner.options.diff,
            become=become, variables=variables,
            render=lambda text: templar.render(text, context=self.context),
            render_file=lambda path: templar.render_file(path, context=self.context),
            find_file=lambda name, kind: _find_file(self.runner, self.role, name, kind),
            facts=self.host.facts,
        )
        ctx.templar = templar  # type: ignore[attr-defined] - controller modules (debug var=) need it
        ctx.cancelled = self.runner.pb.cancelled  # type: ignore[attr-defined] - Ctrl-C: apply_plan stops between steps
        ctx.read_only = self.read_only_check(module.name)
        ctx.host_state = self.host  # type: ignore[attr-defined]
        result = module.run(args, ctx)
        secrets = [s for s in (become.password, self.host.inv_vars.get("ansible_password")) if s]
        for key in ("stdout", "stderr", "msg"):
            if isinstance(result.get(key), str) and secrets:
                result[key] = scrub(result[key], secrets)
        return result

    def become(self, templar: Templar) -> BecomeSpec:
        """The task's become: keywords (task, block, role, play) over the host's ansible_become* vars."""
        # Ansible: connection variables (ansible_become*, from any variable source) beat the keywords,
        # which beat the command line (-b, --become-user, -K: layered under by become_from_vars).
        variables = templar.variables
        explicit = {name: templar.render(variables[name], context=self.context)
                    for name in _BECOME_VARS if name in variables}
        enabled: bool | None = None
        if "ansible_become" in explicit:
            enabled = to_bool(explicit["ansible_become"], "ansible_become")
        else:
            become_kw = self._kw(templar, "become")
            enabled = None if become_kw is None else to_bool(become_kw, "become")
        user = explicit.get("ansible_become_user") or self._kw(templar, "become_user")
        hv = {**self.host.inv_vars, **explicit}
        for keyword, var in (("become_method", "ansible_become_method"), ("become_flags", "ansible_become_flags")):
            value = self._kw(templar, keyword)
            if var not in explicit and value is not None:
                hv[var] = value
        return become_from_vars(hv, enabled=enabled, user=None if user is None else str(user),
                                cli=self.runner.options.connection)

    def environment(self, templar: Templar) -> dict[str, str]:
        env = self._kw(templar, "environment")
        return {str(k): str(v) for k, v in dict(env).items()} if env else {}

    def read_only_check(self, module_name: str) -> bool:
        """A `command` task with `changed_when: false` is taken as a read-only check.

        A check runs at its turn, never ahead of the tasks before it; the checks that directly
        follow it run in the same round trip, in order, stopping at the first that exits non-zero.
        """
        return module_name == "command" and not self.runner.options.no_fast_path and is_check(self.task)

    # -- speculation (the fast path's lookahead) ---------------------------------------------
    def speculate(self, checks: bool = False) -> list[ProbeRequest]:
        """The probes this task would ask for if it ran now, without running it or touching the host.

        Controller-only tasks that only set variables (set_fact, include_vars) are carried out on
        the (scratch) host state so that later tasks see their variables. Anything that cannot be
        worked out yet (a condition on a result not known, an undefined variable) yields nothing.
        """
        templar = self.templar()
        if self._kw(templar, "delegate_to") not in (None, "", self.host.name):
            return []
        whens = [*self.scope.whens, self.task.kw("when")] if self.task.kw("when") is not None else \
            list(self.scope.whens)
        cls = get_module(self.task.module)
        if cls is None:
            return []
        items = _loop_items(templar, self.task, self.context)
        out: list[ProbeRequest] = []
        lc = self.task.kw("loop_control") or {}
        for index in range(len(items) if items is not None else 1):
            item_templar = templar if items is None else templar.child(_loop_vars(lc, items, index))
            if not self._conditions_hold(item_templar, whens):
                continue
            module = cls()
            args = module.validate(_drop_omitted(item_templar.render(self.task.args, context=self.context)))
            if cls.runs_on == "controller":
                if cls.name in ("set_fact", "include_vars"):
                    ctx = TaskContext(transport=None, host=self.host.name,  # type: ignore[arg-type]
                                      variables=item_templar.variables,
                                      render=lambda text, t=item_templar: t.render(text, context=self.context),
                                      find_file=lambda name, kind: _find_file(self.runner, self.role, name, kind))
                    ctx.templar = item_templar  # type: ignore[attr-defined]
                    ctx.host_state = self.host  # type: ignore[attr-defined]
                    self._apply_facts(module.run(args, ctx))
                continue
            become = self.become(item_templar)
            env = self.environment(item_templar) or None
            if self.read_only_check(cls.name) and not (args.get("stdin") or args.get("creates")
                                                       or args.get("removes")):
                if checks:
                    step = module.plan(args, None, None)  # type: ignore[arg-type]
                    out.append(ProbeRequest(step.steps[0].cmd, become if become.enabled else None, env))
                continue
            if checks:
                continue
            snippet = module.lookahead_probe(args, self.host.facts)
            if snippet is not None:
                out.append(ProbeRequest(snippet, become if become.enabled else None, env))
        register = self.task.kw("register")
        if register:
            self.host.set_facts.pop(register, None)
        return out

    # -- bookkeeping -----------------------------------------------------------------------
    def _finish(self, result: dict[str, Any], no_log: bool, loop: bool = False) -> None:
        host, task = self.host, self.task
        status = self._status(result)
        if not loop:
            self.runner.emit(TaskEvent(host.name, self.title, status, result, no_log=no_log,
                                       ignored=bool(result.get("_hostprep_ignored")), handler=task.is_handler))
        if status == "unreachable":
            if self.scope.keyword(task, "ignore_unreachable"):
                host.stats.ignored += 1
            else:
                host.unreachable = True
                host.stats.unreachable = 1
            return
        # Like Ansible's strategy: a loop's per-item facts (set_fact with_dict, ...) apply in item order.
        for each in (result.get("results") or []) if loop else [result]:
            if isinstance(each, Mapping):
                self._apply_facts(each)
        if status == "failed":
            if result.get("_hostprep_ignored"):
                # Ansible counts an ignored failure as ok + ignored, and changed when it changed.
                host.stats.ignored += 1
                host.stats.ok += 1
                host.stats.changed += 1 if result.get("changed") else 0
            else:
                host.stats.failed += 1
                host.failed = True
                host.last_failure = (task, result)  # type: ignore[attr-defined]
        elif status == "skipped":
            host.stats.skipped += 1
        elif status == "changed":
            host.stats.changed += 1
            host.stats.ok += 1
        else:
            host.stats.ok += 1
        if status == "changed" or (status == "ok" and loop and result.get("changed")):
            notify = task.kw("notify")
            for name in [notify] if isinstance(notify, str) else notify or []:
                if name not in host.notified:
                    host.notified.append(str(name))
        self._register(result)

    def _register(self, result: dict[str, Any]) -> None:
        name = self.task.kw("register")
        if name:
            clean = {k: v for k, v in result.items() if not k.startswith("_hostprep")}
            self.host.set_facts[name] = clean
