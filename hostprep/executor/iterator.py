"""The order of a play, in one place (Ansible's PlayIterator is the model).

A host walks: Gathering Facts; pre_tasks; handlers; roles, then tasks; handlers; post_tasks;
handlers. A block runs its tasks, then (after a failure) its `rescue`, then its `always`; an
include is expanded where it stands. Each host gets a `HostCursor` over this walk; the
strategy runs the step the cursor shows, applies its result to the host, then advances. The
walk reads the host's state when it resumes, so a failure sends the host to the rescue, the
always or out of the play without the strategy knowing about blocks.

Every step has a `path`, its position in the play as a tuple of ints. Paths compare in play
order, so the linear strategy runs the smallest path among the hosts' next steps on every host
that is at it (hosts in a rescue wait until the others are through the block, as in Ansible).
The fast path's look-ahead walks the same iterator with a host that never fails (`static_walk`).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from hostprep.executor.scope import Scope
from hostprep.playbook.model import Block, Play, Role, Task

GATHER = "gather"  # the facts step
TASK = "task"
INCLUDE = "include"  # include_tasks / include_role: the strategy replies with what it includes
FLUSH = "flush"  # the implicit handler flush after each section
_END = 1 << 30  # the path index of a section's implicit flush: after all of its tasks
INCLUDE_MODULES = ("include_tasks", "include_role")


@dataclass(frozen=True)
class Step:
    """One thing a host does next: a task (with its scope), a facts gathering or a handler flush."""

    kind: str
    task: Task | None
    scope: Scope
    path: tuple[int, ...]


# What the strategy sends back for an INCLUDE step: the included items with their scope, one per loop item.
Expansion = list[tuple[list[Any], Scope]]


class Walker(Protocol):
    """What the walk reads from a host: whether it goes on, and how its blocks end."""

    @property
    def active(self) -> bool: ...

    failed: bool
    unreachable: bool
    ended: bool
    notified: list[str]
    rescues: int

    def enter_rescue(self) -> None: ...


class PlayIterator:
    """The walk of one play; `cursor(host)` gives a host its own position in it."""

    def __init__(self, play: Play, gather: bool, force_handlers: bool = False) -> None:
        self.play = play
        self.gather = gather
        self.force_handlers = force_handlers

    def cursor(self, host: Walker) -> HostCursor:
        return HostCursor(self.walk(host))

    def walk(self, host: Walker) -> Generator[Step, Expansion | None, None]:
        base = Scope(self.play)
        if self.gather:
            yield Step(GATHER, None, base, (-1,))
        yield from self._items(self.play.pre_tasks, base, (0,), host)
        yield from self._flush(base, (0, _END), host)
        if host.active:
            for index, role in enumerate(self.play.roles):
                yield from self._items(role.tasks, base.with_role(role), (1, index), host)
            yield from self._items(self.play.tasks, base, (2,), host)
        yield from self._flush(base, (2, _END), host)
        yield from self._items(self.play.post_tasks, base, (3,), host)
        yield from self._flush(base, (3, _END), host)

    def _flush(self, scope: Scope, path: tuple[int, ...], host: Walker) -> Generator[Step, Any, None]:
        if host.notified and not host.unreachable and (host.active or self.force_handlers):
            yield Step(FLUSH, None, scope, path)

    def _items(self, items: list[Any], scope: Scope, path: tuple[int, ...],
               host: Walker) -> Generator[Step, Expansion | None, None]:
        for index, item in enumerate(items):
            if not host.active:
                return
            here = (*path, index)
            if isinstance(item, Block):
                yield from self._block(item, scope, here, host)
            elif item.module == "include_role" and item.args.get("static") and item.included:
                # import_role: static, no step of its own (Ansible shows no line for it); its keywords (when,
                # tags, become, ...) go to each of the role's tasks, like a block around them
                role = item.included[0]
                for number, each in enumerate(import_order(self.play, role)):  # its dependencies first
                    yield from self._items(each.tasks, imported_scope(scope, item, each), (*here, number), host)
            elif item.module in INCLUDE_MODULES:
                expansion = yield Step(INCLUDE, item, scope, here)
                for number, (included, inner) in enumerate(expansion or []):
                    yield from self._items(included, inner, (*here, number), host)
            else:
                yield Step(TASK, item, scope, here)

    def _block(self, block: Block, scope: Scope, path: tuple[int, ...],
               host: Walker) -> Generator[Step, Expansion | None, None]:
        inner = scope.with_block(block)
        yield from self._items(block.block, inner, (*path, 0), host)
        if host.failed and not host.unreachable and block.rescue:
            host.enter_rescue()
            yield from self._items(block.rescue, inner, (*path, 1), host)
        if block.always and not host.unreachable and not host.ended:
            was_failed = host.failed
            host.failed = False
            try:
                yield from self._items(block.always, inner, (*path, 2), host)
            finally:
                host.failed = host.failed or was_failed


class HostCursor:
    """A host's position in the walk: `peek` shows the next step, `advance` moves past it."""

    def __init__(self, walk: Generator[Step, Expansion | None, None]) -> None:
        self._walk = walk
        self._next: Step | None = None
        self._reply: Expansion | None = None
        self._started = False
        self.done = False

    def peek(self) -> Step | None:
        """The host's next step (worked out from its state now), None when its play is over."""
        if self._next is None and not self.done:
            try:
                self._next = self._walk.send(self._reply) if self._started else next(self._walk)
            except StopIteration:
                self.done = True
            self._started = True
            self._reply = None
        return self._next

    def advance(self, expansion: Expansion | None = None) -> None:
        """The step shown by `peek` is done; for an include, `expansion` is what it included."""
        self._next = None
        self._reply = expansion

    def close(self) -> None:
        self._walk.close()
        self.done = True


class _NeverFails:
    """A host for the static walk: never fails, never notifies, always active."""

    active = True
    failed = False
    unreachable = False
    ended = False
    notified: list[str] = []
    rescues = 0

    def enter_rescue(self) -> None:
        """Never reached: this host never fails."""


def static_walk(play: Play) -> list[tuple[Task, Scope]]:
    """Every task of the play with its scope, in the order a host meets them when nothing fails.

    Includes whose content is known before the run (a literal file) are expanded; the others
    stand as their include task.
    """
    cursor = PlayIterator(play, gather=False).cursor(_NeverFails())
    out: list[tuple[Task, Scope]] = []
    while (step := cursor.peek()) is not None:
        expansion = None
        if step.task is not None:
            if step.kind == INCLUDE:
                expansion = static_expansion(step.task, step.scope)
                if expansion is None:
                    out.append((step.task, step.scope))
            else:
                out.append((step.task, step.scope))
        cursor.advance(expansion)
    return out


def import_order(play: Play, role: Role) -> list[Role]:
    """An import_role's role after its dependencies (each once; a dependency the play's `roles:` ran already
    is not run again, unless it allows duplicates), as Ansible runs them."""
    from hostprep.playbook.loader import _flatten_roles, role_identity

    deps = _flatten_roles(role.dependencies, [role_identity(r) for r in play.roles])
    return [*deps, role]


def include_order(play: Play, role: Role, ran: list[tuple[str, str]]) -> list[Role]:
    """An include_role's role after its dependencies: those the play's `roles:` hold or that ran already for
    the host (`ran`: role identities) are not run again unless they allow duplicates, as in Ansible."""
    from hostprep.playbook.loader import _flatten_roles, role_identity

    deps = _flatten_roles(role.dependencies, [role_identity(r) for r in play.roles] + list(ran))
    return [*deps, role]


def imported_scope(scope: Scope, task: Task, role: Role) -> Scope:
    """The scope of an import_role's tasks: the import's keywords over them, then the role."""
    keywords = {k: v for k, v in task.keywords.items() if k != "name"}
    return scope.with_block(Block(block=[], rescue=[], always=[], keywords=keywords, file=task.file,
                                  line=task.line)).with_role(role)


def static_expansion(task: Task, scope: Scope) -> Expansion | None:
    """What an include brings in when it was loaded ahead (a literal file or role), else None."""
    if task.module == "include_tasks" and task.included is not None:
        return [(task.included, scope.with_include(task, {}))]
    if task.module == "include_role" and task.included:
        role = task.included[0]
        return [(role.tasks, scope.with_include(task, {}).with_role(role))]
    return None


def handler_names(handler: Task) -> set[str]:
    """The names that notify a handler: its name, `role : name`, and what it listens to."""
    names = {str(handler.name)} if handler.name else set()
    if handler.role is not None and handler.name:
        names.add(f"{handler.role.name} : {handler.name}")
    listen = handler.kw("listen")
    if listen:
        names.update([listen] if isinstance(listen, str) else map(str, listen))
    return names


def notified_handlers(play: Play, notified: Iterable[str]) -> list[tuple[Task, Scope]]:
    """The play's handlers that `notified` names, in the order they are defined (Ansible's order)."""
    wanted = set(notified)
    return [(h, handler_scope(play, h)) for h in play.handlers if handler_names(h) & wanted]


def handler_scope(play: Play, handler: Task) -> Scope:
    """What a handler inherits, as Ansible's handler blocks do from their parents: an imported role's handler
    the import_role task's keywords (its when, become, vars...), then its role's (a `roles:` entry's keywords
    and when, as for the role's tasks)."""
    scope = Scope(play, handler=True)
    imported_by = play.handler_imports.get(handler.uid)
    if imported_by is not None and handler.role is not None:
        return imported_scope(scope, imported_by, handler.role)
    if handler.role is not None:
        return scope.with_role(handler.role)
    return scope
