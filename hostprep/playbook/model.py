"""The loaded, validated form of playbooks: plays, roles, blocks and tasks.

Everything is resolved at load time (imports expanded, roles found, module names and
argument names checked) so that bad input is reported before any host is contacted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Role:
    """A role as used once in a play (same role with other params is another Role)."""

    name: str
    path: Path
    defaults: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    tasks: list[Any] = field(default_factory=list)  # Task | Block
    handlers: list[Any] = field(default_factory=list)
    when: Any = None
    tags: list[str] = field(default_factory=list)
    public: bool = True
    dependencies: list[Role] = field(default_factory=list)
    allow_duplicates: bool = False

    @property
    def searchpath(self) -> list[Path]:
        return [self.path]


@dataclass
class Task:
    """One task: a module call with Ansible's task keywords."""

    name: str | None
    module: str  # canonical short name, or "meta", "include_tasks", "include_role", ...
    args: dict[str, Any]
    keywords: dict[str, Any]
    file: str | None = None
    line: int | None = None
    role: Role | None = None
    is_handler: bool = False
    uid: int = 0
    included: list[Any] | None = None  # static content loaded for include_tasks with a literal file
    unsupported: str | None = None  # a module hostprep lacks: this error is raised when the task is reached
    action: str = ""  # the module name as written (`ansible.builtin.command`): Ansible's name of an unnamed task
    start_line: int | None = None  # where the task's mapping starts (`line` is its action's): -vv's task path

    def kw(self, key: str, default: Any = None) -> Any:
        return self.keywords.get(key, default)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.file else "?"

    @property
    def display_name(self) -> str:
        base = self.name or self.action or self.module
        if not self.name and self.module == "include_role":  # Ansible's IncludeRole name: "include_role : r1"
            base = f"{base} : {self.args.get('name')}"
        if self.role is not None:
            return f"{self.role.name} : {base}"
        return base


@dataclass
class Block:
    """block/rescue/always with the keywords that apply to every task inside."""

    block: list[Any]
    rescue: list[Any]
    always: list[Any]
    keywords: dict[str, Any]
    file: str | None = None
    line: int | None = None
    role: Role | None = None
    name: str | None = None

    def kw(self, key: str, default: Any = None) -> Any:
        return self.keywords.get(key, default)


@dataclass
class Play:
    """One play of a playbook."""

    name: str
    hosts: Any
    keywords: dict[str, Any]
    vars: dict[str, Any]
    vars_files: list[Any]
    pre_tasks: list[Any]
    roles: list[Role]
    tasks: list[Any]
    post_tasks: list[Any]
    handlers: list[Task]
    file: str | None = None
    line: int | None = None
    basedir: Path = Path(".")
    # the roles of the play's import_role tasks: their variables are the play's as `roles:`' are (Ansible adds
    # them to the play's roles when it loads the play), though they run where they are imported
    imported_roles: list[Role] = field(default_factory=list)
    # a handler of an imported role (by its uid) -> the import_role task: the handler inherits its keywords
    # (when, become, vars, environment...) as Ansible's handlers do from the IncludeRole that is their parent
    handler_imports: dict[int, Task] = field(default_factory=dict)

    def kw(self, key: str, default: Any = None) -> Any:
        return self.keywords.get(key, default)


@dataclass
class Playbook:
    path: Path
    plays: list[Play]

    @property
    def basedir(self) -> Path:
        return self.path.parent
