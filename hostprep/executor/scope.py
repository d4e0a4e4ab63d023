"""The keywords and variables a task inherits from its play, role, blocks and includes."""

from __future__ import annotations

from collections import ChainMap
from dataclasses import dataclass, field
from typing import Any

from hostprep.playbook.model import Block, Play, Role, Task

INHERITED = ("become", "become_user", "become_method", "become_flags", "ignore_errors", "ignore_unreachable",
             "no_log", "check_mode", "environment", "delegate_to", "run_once", "any_errors_fatal", "remote_user",
             "connection", "throttle", "diff")


@dataclass
class Scope:
    """An immutable chain: play -> role -> block(s) -> include(s) for one task."""

    play: Play
    role: Role | None = None
    whens: tuple[Any, ...] = ()
    tags: frozenset[str] = frozenset()
    keywords: dict[str, Any] = field(default_factory=dict)
    block_vars: tuple[dict[str, Any], ...] = ()
    include_params: dict[str, Any] = field(default_factory=dict)
    handler: bool = False

    def with_role(self, role: Role) -> Scope:
        kw = dict(self.keywords)
        for key in INHERITED:
            if "__kw_" + key in role.params:
                kw[key] = role.params["__kw_" + key]
        whens = self.whens + ((role.when,) if role.when is not None else ())
        return Scope(self.play, role, whens, self.tags | frozenset(role.tags), kw, self.block_vars,
                     self.include_params, self.handler)

    def with_block(self, block: Block) -> Scope:
        kw = dict(self.keywords)
        for key in INHERITED:
            if key in block.keywords:
                kw[key] = block.keywords[key]
        whens = self.whens + ((block.kw("when"),) if block.kw("when") is not None else ())
        tags = block.kw("tags") or []
        tags = [tags] if isinstance(tags, str) else tags
        bvars = self.block_vars + ((dict(block.kw("vars")),) if block.kw("vars") else ())
        return Scope(self.play, self.role if block.role is None else block.role, whens,
                     self.tags | frozenset(map(str, tags)), kw, bvars, self.include_params, self.handler)

    def with_include(self, task: Task, params: dict[str, Any]) -> Scope:
        kw = dict(self.keywords)
        for key in INHERITED:
            if key in task.keywords:
                kw[key] = task.keywords[key]
        # an import's tags go to every imported task; a dynamic include's tags select the include itself
        # only (Ansible: its tasks get them through `apply: {tags: ...}`)
        tags = task.kw("tags") or [] if task.args.get("static") else []
        tags = [tags] if isinstance(tags, str) else tags
        return Scope(self.play, self.role, self.whens, self.tags | frozenset(map(str, tags)), kw,
                     self.block_vars, {**self.include_params, **params}, self.handler)

    def keyword(self, task: Task, key: str, default: Any = None) -> Any:
        if key in task.keywords:
            return task.keywords[key]
        if key in self.keywords:
            return self.keywords[key]
        return self.play.keywords.get(key, default)

    def task_tags(self, task: Task) -> set[str]:
        tags = task.kw("tags") or []
        tags = [tags] if isinstance(tags, str) else tags
        play_tags = self.play.kw("tags") or []
        play_tags = [play_tags] if isinstance(play_tags, str) else play_tags
        return set(map(str, tags)) | set(self.tags) | set(map(str, play_tags))


def tags_selected(task_tags: set[str], only: set[str], skip: set[str]) -> bool:
    """Ansible's --tags/--skip-tags rules, with `always`, `never`, `all`, `tagged`, `untagged`."""
    if skip:
        if "all" in skip and "always" not in task_tags:
            return False
        if task_tags & skip:
            return False
        if "tagged" in skip and task_tags and "always" not in task_tags:
            return False
        if "untagged" in skip and not task_tags:
            return False
    if not only or only == {"all"}:
        return "never" not in task_tags or bool(only & task_tags - {"all"})
    if "always" in task_tags and "always" not in skip:
        return True
    if "all" in only and "never" not in task_tags:
        return True
    if "tagged" in only and task_tags:
        return True
    if "untagged" in only and not task_tags:
        return True
    return bool(task_tags & only)


def merged(*layers: dict[str, Any]) -> ChainMap:
    """Layers from lowest to highest precedence as one mapping."""
    return ChainMap(*reversed([dict(layer) for layer in layers if layer]))
