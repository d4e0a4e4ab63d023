"""A task prepared for one host: its templar, keywords, conditions, loop items, become, environment
and module arguments (Ansible's TaskExecutor does this before it calls the action).

The run (taskrun.py) and the fast path's look-ahead (lookahead.py) both prepare a task here, so
a probe guessed ahead is built exactly as the task will build it when it runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hostprep.errors import InputError
from hostprep.executor.scope import Scope
from hostprep.executor.state import HostState
from hostprep.executor.variables import PlayVars
from hostprep.modules import get_module
from hostprep.modules.base import Module
from hostprep.playbook.model import Role, Task
from hostprep.templating import OMIT, Templar, TemplateError, run_lookup
from hostprep.transport.base import BecomeSpec
from hostprep.transport.connect import BECOME_VARS, become_from_vars
from hostprep.values import to_bool

_BECOME_VARS = BECOME_VARS  # ansible_become*, and each method's own (ansible_sudo_pass, ansible_su_user, ...)
_WITH_LISTS = ("list", "indexed_items", "together", "flattened", "fileglob", "first_found")


def is_check(task: Task) -> bool:
    """A `command` task with `changed_when: false`: a declared read-only check (see prober.check)."""
    value = task.kw("changed_when")
    return task.module == "command" and (value is False or (isinstance(value, str)
                                                             and value.strip().lower() in ("false", "no")))


def drop_omitted(value: Any) -> Any:
    """Arguments without the ones a template set to `omit`."""
    if isinstance(value, dict):
        return {k: drop_omitted(v) for k, v in value.items() if v is not OMIT}
    if isinstance(value, list):
        return [drop_omitted(v) for v in value if v is not OMIT]
    return value


def loop_vars(loop_control: Mapping[str, Any], items: list[Any], index: int) -> dict[str, Any]:
    """The variables of one loop item: the loop var, index_var, ansible_loop_var and ansible_loop."""
    loop_var = loop_control.get("loop_var", "item")
    count = len(items)
    loop = {"index": index + 1, "index0": index, "revindex": count - index, "revindex0": count - index - 1,
            "first": index == 0, "last": index == count - 1, "length": count}
    # as Ansible's loop_control.extended: previtem/nextitem only where there is one, allitems unless refused
    if loop_control.get("extended_allitems", True) not in (False, "false", "no"):
        loop["allitems"] = items
    if index > 0:
        loop["previtem"] = items[index - 1]
    if index < count - 1:
        loop["nextitem"] = items[index + 1]
    out = {loop_var: items[index], "ansible_loop_var": loop_var, "ansible_loop": loop}
    if loop_control.get("index_var"):
        out[loop_control["index_var"]] = index
    return out


def play_become(play_vars: PlayVars, host: HostState) -> BecomeSpec:
    """The play's become, with which facts are gathered (as Ansible does).

    ansible_become* variables beat the play's keywords, which beat -b/--become-user/-K.
    """
    play, options = play_vars.play, play_vars.options
    variables = play_vars.play_level(host)
    templar = Templar(variables)
    hv = {k: templar.render(v) for k, v in variables.items() if k.startswith("ansible_become")}
    hv = {**host.inv_vars, **hv}

    def keyword(name: str) -> Any:
        value = play.kw(name)
        return None if value is None else templar.render(value)

    for name, var in (("become_method", "ansible_become_method"), ("become_flags", "ansible_become_flags")):
        if var not in hv and keyword(name) is not None:
            hv[var] = keyword(name)
    enabled = None if "ansible_become" in hv or keyword("become") is None else to_bool(keyword("become"), "become")
    user = hv.get("ansible_become_user") or keyword("become_user")
    return become_from_vars(hv, enabled=enabled, user=None if user is None else str(user), cli=options.connection)


class TaskPrep:
    """One task on one host, ready to run or to be looked ahead at (nothing here touches the host)."""

    def __init__(self, play_vars: PlayVars, host: HostState, task: Task, scope: Scope) -> None:
        self.play_vars = play_vars
        self.options = play_vars.options
        self.host = host
        self.task = task
        self.scope = scope
        self.role: Role | None = task.role or scope.role
        self.context = f"task '{task.display_name}' ({task.where})"

    def templar(self) -> Templar:
        """A templar over the host's variables at this task, searching the role's and the play's dirs."""
        variables = self.play_vars.for_task(self.host, self.task, self.scope)
        basedir = self.play_vars.play.basedir
        search = [self.role.path, self.role.path / "templates"] if self.role else []
        search += [basedir / "templates", basedir]
        return Templar(variables, searchpath=search)

    def title(self, templar: Templar) -> str:
        """The task's name as shown (a templated name rendered; the raw name if it cannot be)."""
        title = self.task.display_name
        if self.task.name and "{" in str(self.task.name):
            try:
                rendered = str(templar.render(self.task.name))
                title = f"{self.role.name} : {rendered}" if self.task.role and self.role else rendered
            except TemplateError:
                pass
        return title

    def kw(self, templar: Templar, key: str, default: Any = None) -> Any:
        """A keyword of the task or inherited from its block/role/play, rendered."""
        value = self.scope.keyword(self.task, key, default)
        return templar.render(value, context=self.context) if value is not None else default

    def bool_kw(self, templar: Templar, key: str, default: bool = False) -> bool:
        value = self.kw(templar, key, None)
        return default if value is None else to_bool(value, key)

    def whens(self) -> list[Any]:
        """Every `when` that applies: the blocks', role's and includes' first, then the task's own."""
        own = self.task.kw("when")
        return [*self.scope.whens, own] if own is not None else list(self.scope.whens)

    def conditions_hold(self, templar: Templar, whens: list[Any] | None = None) -> bool:
        return self.false_condition(templar, whens) is None

    def false_condition(self, templar: Templar, whens: list[Any] | None = None) -> Any:
        """The first `when` that is false, as written (a skipped result's `false_condition`), or None."""
        for w in self.whens() if whens is None else whens:
            if w is None:
                continue
            for cond in w if isinstance(w, list) else [w]:
                if not templar.is_true(cond, context=self.context):
                    return cond
        return None

    def loop_items(self, templar: Templar) -> list[Any] | None:
        """The items of `loop`/`with_*`, or None for a task without a loop."""
        task = self.task
        if "loop" in task.keywords:
            items = templar.render(task.kw("loop"), context=self.context)
            if isinstance(items, str) or not isinstance(items, (list, tuple)):
                raise TemplateError(f"loop needs a list, got {type(items).__name__} (in {self.context})")
            return list(items)
        for key, value in task.keywords.items():
            if not key.startswith("with_"):
                continue
            terms = templar.render(value, context=self.context)
            name = key[5:]
            if name == "items":
                return run_lookup(templar, "items", *(terms if isinstance(terms, list) else [terms]))
            if name == "dict":
                return run_lookup(templar, name, terms)
            if isinstance(terms, list) and name in _WITH_LISTS:
                return list(terms) if name == "list" else run_lookup(templar, name, *terms)
            return run_lookup(templar, name, terms)
        return None

    def loop_control(self) -> Mapping[str, Any]:
        return self.task.kw("loop_control") or {}

    def module(self) -> Module:
        cls = get_module(self.task.module)
        if cls is None:
            raise InputError(self.task.unsupported or f"unknown module {self.task.module!r}", file=self.task.file,
                             line=self.task.line, key=self.task.module)
        return cls()

    def args(self, module: Module, templar: Templar) -> dict[str, Any]:
        """The module's arguments rendered for this host (omitted ones dropped) and validated."""
        args = drop_omitted(templar.render(self.task.args, context=self.context))
        try:
            return module.validate(args)
        except InputError as exc:
            raise InputError(f"{exc.message} ({self.context})", file=self.task.file, line=self.task.line,
                             key=exc.key) from None

    def check_mode(self, templar: Templar) -> bool:
        value = self.kw(templar, "check_mode")
        return self.options.check if value is None else to_bool(value, "check_mode")

    def delegate(self, templar: Templar) -> Any:
        return self.kw(templar, "delegate_to")

    def connection_keywords(self, templar: Templar) -> dict[str, Any]:
        """remote_user / connection of the task, block, role or play, and the play's port (a host's
        ansible_user/_connection/_port win)."""
        return {k: v for k in ("remote_user", "connection", "port") if (v := self.kw(templar, k)) is not None}

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
            become_kw = self.kw(templar, "become")
            enabled = None if become_kw is None else to_bool(become_kw, "become")
        user = explicit.get("ansible_become_user") or self.kw(templar, "become_user")
        hv = {**self.host.inv_vars, **explicit}
        for keyword, var in (("become_method", "ansible_become_method"), ("become_flags", "ansible_become_flags")):
            value = self.kw(templar, keyword)
            if var not in explicit and value is not None:
                hv[var] = value
        return become_from_vars(hv, enabled=enabled, user=None if user is None else str(user),
                                cli=self.options.connection)

    def environment(self, templar: Templar) -> dict[str, str]:
        env = self.kw(templar, "environment")
        return {str(k): str(v) for k, v in dict(env).items()} if env else {}

    def read_only_check(self, module_name: str) -> bool:
        """A `command` task with `changed_when: false` is taken as a read-only check.

        A check runs at its turn, never ahead of the tasks before it; the checks that directly
        follow it run in the same round trip, in order, stopping at the first that exits non-zero.
        """
        return module_name == "command" and not self.options.no_fast_path and is_check(self.task)

    def find_file(self, name: str, kind: str) -> Path:
        """A local file a task names (`kind`: templates, files, vars): the role's dirs, then the play's."""
        path = Path(name)
        if path.is_absolute():
            if path.exists():
                return path
            raise InputError(f"{kind[:-1]} {name!r} not found")
        candidates = []
        if self.role is not None:
            candidates += [self.role.path / kind / name, self.role.path / name]
        base = self.play_vars.play.basedir
        candidates += [base / kind / name, base / name]
        for c in candidates:
            if c.exists():
                return c
        raise InputError(f"could not find {kind[:-1]} {name!r} "
                         f"(looked in {', '.join(str(c.parent) for c in candidates)})")
