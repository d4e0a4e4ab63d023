"""Load a playbook and everything it uses, and refuse bad input before any host is touched."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hostprep.errors import InputError
from hostprep.playbook import keywords as K
from hostprep.playbook.model import Play, Playbook, Role, Task
from hostprep.playbook.tasks import CONNECTIONS, TaskSource, load_task_file, parse_task_list
from hostprep.templating import is_template
from hostprep.transport.become import method_error
from hostprep.yamlsource import PosDict, load_yaml_file, load_yaml_text

SHIPPED_ROLES = (Path(__file__).resolve().parents[1] / "roles").resolve()
SHIPPED_NAMESPACE = "hostprep."
MAIN_NAMES = ("main.yml", "main.yaml", "main")


def shipped_roles_dir() -> Path:
    """Roles that come with hostprep: package data (in a checkout, hostprep/roles links to roles/)."""
    return SHIPPED_ROLES


def _find_main(directory: Path, stem: str = "main") -> Path | None:
    for name in (f"{stem}.yml", f"{stem}.yaml", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def _load_mapping(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    data = load_yaml_file(path)
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InputError("expected a mapping of variables", file=str(path))
    return dict(data)


class LoadContext:
    """State while loading one playbook: where roles are found, which are loading (cycles)."""

    def __init__(self, basedir: Path, roles_path: list[Path] | None = None,
                 extra_vars: dict[str, Any] | None = None) -> None:
        self.basedir = basedir
        self.extra_vars = dict(extra_vars or {})  # -e: known at load time (templated import names)
        env_paths = [Path(p) for p in os.environ.get("ANSIBLE_ROLES_PATH", "").split(":") if p]
        self.roles_path = [basedir / "roles", *(roles_path or []), *env_paths, basedir]
        self._loading: list[str] = []

    def find_role(self, name: str, where: tuple[str | None, int | None]) -> Path:
        if "/" in name or name.startswith("."):
            path = (self.basedir / name).resolve()
            if path.is_dir():
                return path
        # the project's roles first, as Ansible searches; then hostprep's own roles, by their short name or
        # as hostprep.NAME (the way a collection's roles are named), like a collection installed last
        shipped = name.removeprefix(SHIPPED_NAMESPACE)
        for base, wanted in [*((b, name) for b in self.roles_path), (shipped_roles_dir(), shipped)]:
            candidate = base / wanted
            if candidate.is_dir() and ((candidate / "tasks").is_dir() or (candidate / "meta").is_dir()):
                return candidate
        searched = ", ".join(str(p) for p in [*self.roles_path, shipped_roles_dir()])
        raise InputError(f"role {name!r} not found (searched {searched})", file=where[0], line=where[1], key=name)

    def load_role(self, name: str, params: dict[str, Any] | None = None, *, tasks_from: str = "main",
                  vars_from: str = "main", defaults_from: str = "main", handlers_from: str = "main",
                  where: tuple[str | None, int | None] = (None, None), validate: bool = True,
                  provided: dict[str, Any] | None = None) -> Role:
        """A role with its tasks; `validate`: its argument spec's check first (`rolespec_validate`), with
        `provided` the role's params (a `roles:` entry's keys that are not keywords) checked too."""
        path = self.find_role(name, where)
        key = str(path)
        if key in self._loading:
            chain = " -> ".join(Path(p).name for p in [*self._loading, key])
            raise InputError(f"circular role dependency: {chain}", file=where[0], line=where[1], key=name)
        self._loading.append(key)
        try:
            role = Role(name=Path(name).name, path=path, params=dict(params or {}))
            role.defaults = _load_mapping(_find_main(path / "defaults", defaults_from))
            role.vars = _load_mapping(_find_main(path / "vars", vars_from))
            src = TaskSource(path / "tasks" / "main.yml", role)
            tasks_file = _find_main(path / "tasks", tasks_from)
            if tasks_from != "main" and tasks_file is None:
                raise InputError(f"role {name}: tasks file {tasks_from!r} not found", file=where[0],
                                 line=where[1], key="tasks_from")
            role.tasks = load_task_file(tasks_file, self, src) if tasks_file else []
            if validate:
                check = validation_task(role, tasks_from, provided or {})
                if check is not None:
                    role.tasks.insert(0, check)
            handlers_file = _find_main(path / "handlers", handlers_from)
            role.handlers = load_task_file(handlers_file, self, TaskSource(handlers_file, role),
                                           handlers=True) if handlers_file else []
            meta = _load_mapping(_find_main(path / "meta"))
            deps = []
            for dep in meta.get("dependencies") or []:
                dep_name, dep_params = _role_entry(dep, meta_file=str(path / "meta"))
                deps.append(self.load_role(dep_name, dep_params, where=(str(path / "meta" / "main.yml"), None),
                                           provided=_role_params(dep)))
            role.dependencies = deps
            role.allow_duplicates = bool(meta.get("allow_duplicates", False))
            return role
        finally:
            self._loading.pop()


def argument_specs(path: Path) -> tuple[dict[str, Any], Path | None]:
    """A role's argument specs (entry point -> spec): meta/argument_specs.yml, else meta/main.yml's
    `argument_specs` (Ansible reads one or the other, never both)."""
    found = _find_main(path / "meta", "argument_specs")
    if found is not None:
        data = load_yaml_file(found)
        specs = data.get("argument_specs") if isinstance(data, Mapping) else None
        return (dict(specs) if isinstance(specs, Mapping) else {}), found
    main = _find_main(path / "meta")
    specs = _load_mapping(main).get("argument_specs") if main else None
    return (dict(specs) if isinstance(specs, Mapping) else {}), main


def validation_task(role: Role, entry: str, provided: dict[str, Any]) -> Task | None:
    """Ansible's implicit first task of a role with an argument spec for its entry point (`main`, or
    tasks_from's name): validate_argument_spec, tagged always, named as Ansible names it."""
    from hostprep.playbook.tasks import _uids

    specs, file = argument_specs(role.path)
    spec = specs.get(entry)
    if not spec:
        return None
    if not isinstance(spec, Mapping):
        raise InputError(f"role {role.name}: argument_specs.{entry} must be a mapping", file=str(file))
    options = spec.get("options") or {}
    if not isinstance(options, Mapping) or not all(isinstance(v, Mapping) or v is None for v in options.values()):
        raise InputError(f"role {role.name}: argument_specs.{entry}.options must map names to option specs",
                         file=str(file))
    name = f"Validating arguments against arg spec '{entry}'"
    if "short_description" in spec:
        name += f" - {spec['short_description']}"
    args = {"argument_spec": {str(k): dict(v or {}) for k, v in options.items()}, "provided_arguments": provided,
            "validate_args_context": {"type": "role", "name": role.name, "argument_spec_name": entry,
                                      "path": str(role.path)}}
    return Task(name=name, module="validate_argument_spec", args=args, keywords={"tags": ["always"]},
                file=str(file), line=getattr(spec, "line", None), role=role, uid=next(_uids),
                action="ansible.builtin.validate_argument_spec")


def _role_params(entry: Any) -> dict[str, Any]:
    """A role entry's params as Ansible has them: its keys that are not role keywords (`vars:` is not)."""
    if not isinstance(entry, Mapping):
        return {}
    return {str(k): v for k, v in entry.items() if k not in K.ROLE_ENTRY}


def _role_entry(entry: Any, meta_file: str | None = None) -> tuple[str, dict[str, Any]]:
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, Mapping):
        name = entry.get("role") or entry.get("name")
        if not name:
            raise InputError("role entry without a role name", file=getattr(entry, "file", meta_file),
                             line=getattr(entry, "line", None), key="role")
        params = {k: v for k, v in entry.items() if k not in K.ROLE_ENTRY or k == "vars"}
        params.pop("vars", None)
        params.update(entry.get("vars") or {})
        return str(name), params
    raise InputError("a role entry must be a name or a mapping", file=meta_file)


def role_identity(role: Role) -> tuple[str, str]:
    """A role with its params: the same one twice runs once in a play (unless it allows duplicates)."""
    return str(role.path), json.dumps(role.params, sort_keys=True, default=str)


def _flatten_roles(roles: list[Role], seen: list[tuple[str, str]]) -> list[Role]:
    """Dependencies first, each (role, params) once unless the role allows duplicates."""
    out: list[Role] = []
    for role in roles:
        out += _flatten_roles(getattr(role, "dependencies", []), seen)
        ident = role_identity(role)
        if ident in seen and not getattr(role, "allow_duplicates", False):
            continue
        seen.append(ident)
        out.append(role)
    return out


def _parse_play(data: Any, ctx: LoadContext, path: Path) -> Play:
    if not isinstance(data, Mapping):
        raise InputError("a play must be a mapping", file=str(path), line=getattr(data, "line", None))
    for key in data:
        if key not in K.PLAY:
            raise (data.error("unknown play keyword", str(key)) if isinstance(data, PosDict)
                   else InputError("unknown play keyword", file=str(path), key=str(key)))
    for key, reason in K.UNSUPPORTED_PLAY.items():
        if key in data:
            raise data.error(reason, key) if isinstance(data, PosDict) else InputError(reason, key=key)
    if "hosts" not in data:
        raise data.error("play has no hosts", "hosts") if isinstance(data, PosDict) else InputError("no hosts")
    conn = data.get("connection")
    if conn is not None and not is_template(conn) and conn not in CONNECTIONS:
        message = f"connection: {conn!r} is not supported by hostprep ({', '.join(CONNECTIONS)} are)"
        raise data.error(message, "connection") if isinstance(data, PosDict) else InputError(message, file=str(path))
    why = method_error(data.get("become_method"))
    if why:
        raise data.error(why, "become_method") if isinstance(data, PosDict) else InputError(why, file=str(path))
    src = TaskSource(path)
    roles: list[Role] = []
    for entry in data.get("roles") or []:
        name, params = _role_entry(entry)
        line = getattr(entry, "line", None) or getattr(data.get("roles"), "line", None)
        role = ctx.load_role(name, params, where=(str(path), line), provided=_role_params(entry))
        if isinstance(entry, Mapping):
            role.when = entry.get("when")
            tags = entry.get("tags") or []
            role.tags = [tags] if isinstance(tags, str) else list(tags)
            for key in ("become", "become_user", "ignore_errors", "environment", "no_log", "check_mode",
                        "remote_user", "connection"):
                if key in entry:
                    role.params.setdefault("__kw_" + key, entry[key])
        roles.append(role)
    roles = _flatten_roles(roles, [])
    handlers = []
    for role in roles:
        handlers += role.handlers
    handlers += parse_task_list(data.get("handlers"), ctx, src, handlers=True)
    vars_files = data.get("vars_files") or []
    if isinstance(vars_files, str):
        vars_files = [vars_files]
    for vf in vars_files:
        if isinstance(vf, str) and not is_template(vf) and not (ctx.basedir / vf).exists() and not Path(vf).exists():
            raise InputError(f"vars file {vf!r} not found", file=str(path), line=getattr(data, "line", None),
                             key="vars_files")
    play_vars = data.get("vars") or {}
    if not isinstance(play_vars, Mapping):
        raise data.error("vars must be a mapping", "vars") if isinstance(data, PosDict) else InputError("vars")
    play = Play(
        name=str(data.get("name") or data.get("hosts")), hosts=data.get("hosts"),
        keywords={k: v for k, v in data.items() if k not in ("vars", "vars_files", "pre_tasks", "roles", "tasks",
                                                             "post_tasks", "handlers")},
        vars=dict(play_vars), vars_files=list(vars_files),
        pre_tasks=parse_task_list(data.get("pre_tasks"), ctx, src),
        roles=roles,
        tasks=parse_task_list(data.get("tasks"), ctx, src),
        post_tasks=parse_task_list(data.get("post_tasks"), ctx, src),
        handlers=handlers, file=str(path), line=getattr(data, "line", None), basedir=ctx.basedir,
    )
    # an import_role's role is the play's from the start (Ansible loads it with the play): its handlers are
    # the play's handlers, its variables are seen by every task of the play (as a `roles:` role's are)
    sections = [task for role in roles for task in role.tasks] + [*play.pre_tasks, *play.tasks, *play.post_tasks]
    for role, imported_by in _imports(sections):
        play.imported_roles.append(role)
        known = {(h.file, h.line) for h in play.handlers}  # a role imported twice: its handlers once
        for handler in role.handlers:
            if (handler.file, handler.line) not in known:
                play.handlers.append(handler)
                play.handler_imports[handler.uid] = imported_by
    return play


def _imports(items: list[Any]) -> list[tuple[Role, Task]]:
    """The roles import_role brings into these items (blocks and imported roles included; dynamic includes
    are not: Ansible reads them when they run), each with the import_role task that brings it."""
    from hostprep.playbook.model import Block

    out: list[tuple[Role, Task]] = []
    for item in items:
        if isinstance(item, Block):
            out += _imports(item.block) + _imports(item.rescue) + _imports(item.always)
        elif item.module == "include_role" and item.args.get("static") and item.included:
            role = item.included[0]
            out += [*((r, item) for r in _flatten_roles([role], [])), *_imports(role.tasks)]
    return out


def _walk(items: list[Any]) -> list[Any]:
    from hostprep.playbook.model import Block, Task

    out = []
    for item in items:
        if isinstance(item, Block):
            out += _walk(item.block) + _walk(item.rescue) + _walk(item.always)
        elif isinstance(item, Task):
            out.append(item)
            if item.included:
                for inc in item.included:
                    out += _walk(inc.tasks) if isinstance(inc, Role) else _walk([inc])
    return out


def load_playbook(path: str | Path, roles_path: list[Path] | None = None,
                  extra_vars: dict[str, Any] | None = None) -> Playbook:
    """Load and validate a playbook (and its imports, roles, task files, handlers)."""
    path = Path(path)
    if not path.exists():
        raise InputError("playbook not found", file=str(path))
    data = load_yaml_file(path)
    if not isinstance(data, list):
        raise InputError("a playbook must be a list of plays", file=str(path))
    ctx = LoadContext(path.parent.resolve(), roles_path, extra_vars)
    plays: list[Play] = []
    for entry in data:
        if isinstance(entry, Mapping) and "import_playbook" in entry:
            target = path.parent / str(entry["import_playbook"])
            plays += load_playbook(target, roles_path, extra_vars).plays
            continue
        plays.append(_parse_play(entry, ctx, path))
    return Playbook(path=path, plays=plays)


def parse_extra_vars(values: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """`-e k=v`, `-e @file.yml`, `-e '{"json": 1}'` merged left to right (Ansible's extra vars)."""
    out: dict[str, Any] = {}
    for value in values:
        value = value.strip()
        if value.startswith("@"):
            data = load_yaml_file(value[1:])
            if not isinstance(data, Mapping):
                raise InputError("extra vars file must hold a mapping", file=value[1:])
            out.update(data)
        elif value.startswith(("{", "[")):
            data = load_yaml_text(value, "-e")
            if not isinstance(data, Mapping):
                raise InputError("extra vars must be a mapping", key="-e")
            out.update(data)
        else:
            for token in shlex.split(value):
                if "=" not in token:
                    raise InputError(f"extra var {token!r} is not key=value", key="-e")
                k, v = token.split("=", 1)
                out[k] = v
    return out
