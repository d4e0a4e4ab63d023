"""Task lists: tasks and blocks, module arguments in every Ansible form, static imports.

Every task is checked here, before any host is contacted: its keywords, its module and the
module's argument names (and types, where no template is involved).
"""

from __future__ import annotations

import codecs
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hostprep.errors import InputError
from hostprep.modules import get_module
from hostprep.playbook import keywords as K
from hostprep.playbook.ansible_modules import close_names, is_known_ansible_module
from hostprep.playbook.model import Block, Role, Task
from hostprep.templating import is_template
from hostprep.transport.become import method_error
from hostprep.values import to_bool
from hostprep.yamlsource import PosDict, load_yaml_file

if TYPE_CHECKING:
    from hostprep.playbook.loader import LoadContext

_uids = itertools.count(1)
FQCN_PREFIXES = ("ansible.builtin.", "ansible.legacy.", "community.general.", "ansible.posix.")
SPECIAL = K.INCLUDES | {"meta"}
CONNECTIONS = ("ssh", "smart", "paramiko", "local")  # smart and paramiko are ssh here


def canonical_module(name: str) -> str:
    for prefix in FQCN_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _err(data: Any, message: str, key: str | None = None) -> InputError:
    if isinstance(data, PosDict):
        return data.error(message, key)
    return InputError(message, key=key)


def split_args(text: str) -> list[str]:
    """Split k=v text on whitespace outside quotes and Jinja delimiters, then unquote each value."""
    return [unquoted for _start, _end, unquoted in _words(text)]


def _words(text: str, strict: bool = True) -> list[tuple[int, int, str]]:
    """The whitespace-separated words of `text`, quotes and Jinja delimiters keeping a word whole: where each
    is (start, end) and its text without the quotes that group it. `strict`: an open quote is an error (k=v
    text); free-form command text is the shell's to judge."""
    words: list[tuple[int, int, str]] = []
    start: int | None = None
    current = ""
    quote = ""
    depth = 0
    i = 0
    while i < len(text):
        two = text[i:i + 2]
        ch = text[i]
        if start is None and not ch.isspace():
            start = i
        if not quote and (two in ("{{", "{%", "{#") or (depth and two in ("}}", "%}", "#}"))):
            depth += 1 if two[0] == "{" else -1
            current += two
            i += 2
            continue
        if quote:
            if ch == quote:
                quote = ""
            else:
                current += ch
        elif ch in "\"'" and not depth:
            quote = ch
        elif ch.isspace() and not depth:
            if start is not None:
                words.append((start, i, current))
            start, current = None, ""
        else:
            current += ch
        i += 1
    if quote and strict:
        raise ValueError("unbalanced quotes")
    if start is not None:
        words.append((start, len(text), current))
    return words


# the escapes Ansible's parse_kv decodes in k=v arguments (`content="a\nb"` is two lines)
_ESCAPE = re.compile(r"""(\\U[0-9A-Fa-f]{8}|\\u[0-9A-Fa-f]{4}|\\x[0-9A-Fa-f]{2}|\\[0-7]{1,3}|\\N\{[^}]+\}"""
                     r"""|\\[\\'"abfnrtv])""")


def decode_escapes(text: str) -> str:
    """Backslash escapes in a k=v argument decoded as Ansible's parse_kv does (free-form command text is not)."""
    return _ESCAPE.sub(lambda m: codecs.decode(m.group(0), "unicode-escape"), text)


def parse_kv(text: str, free_form: str | None, known: set[str]) -> dict[str, Any]:
    """`k=v k2="v 2"` into a dict; for free-form modules the rest is the command text."""
    if free_form is None:
        out: dict[str, Any] = {}
        for token in split_args(text):
            if "=" not in token:
                raise InputError(f"expected key=value arguments, got {token!r}")
            k, v = token.split("=", 1)
            out[k] = decode_escapes(v)
        return out
    # free-form (command, shell, ...): the module's own k=v options (creates=, chdir=, ...) come out, found as
    # whole words outside quotes and Jinja ({{ out }} may hold spaces); the rest is the command text as written
    out = {}
    kept: list[str] = []
    last = 0
    for start, end, _unquoted in _words(text, strict=False):
        token = text[start:end]
        key, eq, value = token.partition("=")
        if eq and key in known:
            if value[:1] in "\"'" and value[-1:] == value[:1] and len(value) > 1:
                value = value[1:-1]
            out[key] = decode_escapes(value)
            kept.append(text[last:start].rstrip(" \t"))  # the option and the blank before it
            last = end
    kept.append(text[last:])
    rest = "".join(kept).strip()
    if rest:
        out[free_form] = rest
    return out


@dataclass
class TaskSource:
    """Where task lists are being read from (for relative paths and error messages)."""

    file: Path
    role: Role | None = None
    stack: list[str] = field(default_factory=list)


def _static_name(text: str, ctx: LoadContext, src: TaskSource, line: int | None) -> str:
    """An import's templated file name, rendered as Ansible does at load time: with the role's defaults
    and vars and the extra vars (-e); host and play variables are not known yet."""
    from hostprep.templating import Templar, TemplateError

    known: dict[str, Any] = {}
    if src.role is not None:
        known.update(src.role.defaults)
        known.update(src.role.vars)
    known.update(getattr(ctx, "extra_vars", {}) or {})
    try:
        return str(Templar(known).render(text))
    except TemplateError as exc:
        raise InputError(f"import_tasks is static: its file name can only use role defaults/vars and extra vars "
                         f"({exc}); use include_tasks", file=str(src.file), line=line, key="import_tasks") from None


def load_included_tasks(name: str, task: Task, ctx: LoadContext, src: TaskSource) -> list[Any]:
    """The tasks of a dynamic `include_tasks` as it runs; errors name the include and the file."""
    try:
        return load_task_file(_resolve_relative(name, src, ctx), ctx, src, handlers=task.is_handler)
    except InputError as exc:
        raise InputError(f"include_tasks {name!r} ({task.where}): {exc}") from None


def included_path(name: str, task: Task, ctx: LoadContext, src: TaskSource) -> str:
    """The file an include_tasks of `name` loads, as Ansible's `included:` line names it (or the name)."""
    try:
        return str(_resolve_relative(name, src, ctx).resolve())
    except InputError:
        return name


def load_task_file(path: Path, ctx: LoadContext, src: TaskSource, *, handlers: bool = False) -> list[Any]:
    key = str(path.resolve())
    if key in src.stack:
        raise InputError("tasks file includes itself (directly or through others)", file=str(path))
    data = load_yaml_file(path)
    if data is None:
        return []
    if not isinstance(data, list):
        raise InputError("a tasks file must hold a list of tasks", file=str(path))
    sub = TaskSource(path, src.role, [*src.stack, key])
    return parse_task_list(data, ctx, sub, handlers=handlers)


def parse_task_list(items: Any, ctx: LoadContext, src: TaskSource, *, handlers: bool = False) -> list[Any]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise _err(items, "expected a list of tasks")
    out: list[Any] = []
    for item in items:
        if not isinstance(item, Mapping):
            raise InputError("a task must be a mapping", file=str(src.file),
                             line=getattr(items, "line", None))
        parsed = parse_task(item, ctx, src, handlers=handlers)
        if isinstance(parsed, Task):
            parsed.start_line = getattr(item, "line", None)
        if isinstance(parsed, list):
            out.extend(parsed)
        else:
            out.append(parsed)
    return out


def _check_keywords(data: Mapping, allowed: set[str], kind: str) -> None:
    for key in data:
        if key not in allowed:
            raise _err(data, f"unknown {kind} keyword", key=str(key))


def _resolve_relative(name: str, src: TaskSource, ctx: LoadContext, subdir: str = "tasks") -> Path:
    candidates = [src.file.parent / name]
    if src.role is not None:
        candidates.append(src.role.path / subdir / name)
    candidates.append(ctx.basedir / name)
    for c in candidates:
        if c.exists():
            return c
    raise InputError(f"file {name!r} not found (looked in {', '.join(str(c.parent) for c in candidates)})")


def parse_task(data: Mapping, ctx: LoadContext, src: TaskSource, *, handlers: bool = False) -> Any:
    """One entry of a task list: a Task, a Block, or (for static imports) a list of them."""
    if "block" in data:
        _check_keywords(data, K.BLOCK, "block")
        if "timeout" in data:
            raise _err(data, K.UNSUPPORTED_TASK["timeout"], key="timeout")
        kw = {k: v for k, v in data.items() if k not in ("block", "rescue", "always")}
        _check_task_values(data, kw)
        return Block(
            block=parse_task_list(data.get("block"), ctx, src, handlers=handlers),
            rescue=parse_task_list(data.get("rescue"), ctx, src, handlers=handlers),
            always=parse_task_list(data.get("always"), ctx, src, handlers=handlers),
            keywords=kw, file=str(src.file), line=getattr(data, "line", None), role=src.role,
            name=data.get("name"),
        )
    for key in ("rescue", "always"):
        if key in data:
            raise _err(data, f"{key} needs a block", key=key)
    module_keys = [k for k in data if k not in K.TASK]
    action = None
    raw_args: Any = None
    keywords = {k: v for k, v in data.items() if k in K.TASK}
    if "action" in data or "local_action" in data:
        if module_keys:
            raise _err(data, "a task with action/local_action cannot also name a module", key=str(module_keys[0]))
        key = "action" if "action" in data else "local_action"
        value = data[key]
        if key == "local_action":
            keywords["delegate_to"] = "localhost"
        keywords.pop(key, None)
        if isinstance(value, Mapping):
            value = dict(value)
            action = value.pop("module", None)
            raw_args = value
        else:
            action, _, rest = str(value).partition(" ")
            raw_args = rest
        if not action:
            raise _err(data, "action without a module name", key=key)
    else:
        if not module_keys:
            raise _err(data, "task has no module or action", key=None)
        if len(module_keys) > 1:
            unknown = [k for k in module_keys if get_module(canonical_module(str(k))) is None
                       and canonical_module(str(k)) not in SPECIAL]
            if unknown:
                raise _err(data, "unknown task keyword or module", key=str(unknown[0]))
            raise _err(data, f"task names more than one module: {', '.join(map(str, module_keys))}",
                       key=str(module_keys[1]))
        action = str(module_keys[0])
        raw_args = data[action]
    module = canonical_module(str(action))
    line = data.line_of(action) if isinstance(data, PosDict) and action in data else getattr(data, "line", None)
    for key, reason in K.UNSUPPORTED_TASK.items():
        if reason and key in keywords:
            raise _err(data, reason, key=key)
    if "listen" in keywords and not handlers:
        raise _err(data, "listen is only valid on handlers", key="listen")
    _check_task_values(data, keywords)
    loops = [k for k in K.LOOP_KEYWORDS if k in keywords]
    if len(loops) > 1:
        raise _err(data, f"only one loop per task ({', '.join(loops)})", key=loops[1])

    if module in SPECIAL:
        special = _special(module, raw_args, keywords, data, ctx, src, line, handlers)
        if isinstance(special, Task) and not special.action:
            special.action = str(action)  # Ansible names an unnamed include by its action as written
        return special

    cls = get_module(module)
    if cls is None:
        message = unsupported_module_message(str(action))
        if not is_known_ansible_module(module):
            raise InputError(f"unknown module or task keyword {action!r}: {message}", file=str(src.file), line=line,
                             key=str(action))
        # a module Ansible has and hostprep lacks: refused when (and only when) the task is reached
        return Task(name=data.get("name"), module=module, args={}, keywords=keywords, file=str(src.file),
                    line=line, role=src.role, is_handler=handlers, uid=next(_uids), unsupported=message,
                    action=str(action))
    args = _normalize_args(cls, raw_args, keywords.pop("args", None), data, src, line, str(action))
    _check_args(cls, args, src, line)
    _check_literal_source(cls.name, args, ctx, src, line)
    return Task(name=data.get("name"), module=cls.name, args=args, keywords=keywords, file=str(src.file),
                line=line, role=src.role, is_handler=handlers, uid=next(_uids), action=str(action))


LOCAL_SOURCES = {"template": "templates", "copy": "files"}


def _check_literal_source(module: str, args: Mapping, ctx: LoadContext, src: TaskSource, line: int | None) -> None:
    """A literal `src` of template/copy must exist on the controller now, not fail mid-run on some host.

    Searched like the executor does at run time: the role's templates/ or files/, the role dir, the
    playbook dir's templates/ or files/, then the playbook dir.
    """
    kind = LOCAL_SOURCES.get(module)
    name = args.get("src")
    if kind is None or not isinstance(name, str) or _has_template(name) or args.get("remote_src"):
        return
    path = Path(name)
    candidates = [path] if path.is_absolute() else []
    if not path.is_absolute():
        if src.role is not None:
            candidates += [src.role.path / kind / name, src.role.path / name]
        candidates += [ctx.basedir / kind / name, ctx.basedir / name]
    if not any(c.exists() for c in candidates):
        raise InputError(f"{module}: src {name!r} not found (looked in "
                         f"{', '.join(str(c.parent) for c in candidates)})", file=str(src.file), line=line,
                         key="src")


def _check_task_values(data: Mapping, kw: Mapping) -> None:
    tags = kw.get("tags")
    if tags is not None and not isinstance(tags, (str, list)):
        raise _err(data, "tags must be a string or a list", key="tags")
    for key in ("vars", "environment"):
        if key in kw and kw[key] is not None and not isinstance(kw[key], Mapping) and not is_template(kw[key]):
            raise _err(data, f"{key} must be a mapping", key=key)
    conn = kw.get("connection")
    if conn is not None and not is_template(conn) and conn not in CONNECTIONS:
        raise _err(data, f"connection: {conn!r} is not supported by hostprep ({', '.join(CONNECTIONS)} are)",
                   key="connection")
    why = method_error(kw.get("become_method"))
    if why:
        raise _err(data, why, key="become_method")
    notify = kw.get("notify")
    if notify is not None and not isinstance(notify, (str, list)):
        raise _err(data, "notify must be a handler name or a list of them", key="notify")
    lc = kw.get("loop_control")
    if lc is not None:
        if not isinstance(lc, Mapping):
            raise _err(data, "loop_control must be a mapping", key="loop_control")
        for key in lc:
            if key not in ("loop_var", "index_var", "label", "pause", "extended", "extended_allitems"):
                raise _err(lc, "unknown loop_control option", key=str(key))


def _normalize_args(cls: Any, raw: Any, extra: Any, data: Mapping, src: TaskSource, line: int | None,
                    action: str) -> dict[str, Any]:
    known = set(cls.args)
    for spec in cls.args.values():
        known.update(spec.aliases)
    if raw is None:
        args: dict[str, Any] = {}
    elif isinstance(raw, Mapping):
        args = dict(raw)
        if cls.free_form and "_raw_params" in args:
            args[cls.free_form] = args.pop("_raw_params")
    elif isinstance(raw, str):
        try:
            args = parse_kv(raw, cls.free_form, known)
        except (InputError, ValueError) as exc:
            raise InputError(f"cannot parse arguments of {action}: {exc}", file=str(src.file), line=line,
                             key=action) from None
    else:
        raise InputError(f"arguments of {action} must be a mapping or a string", file=str(src.file), line=line,
                         key=action)
    if extra is not None:
        if not isinstance(extra, Mapping):
            raise _err(data, "args must be a mapping", key="args")
        args.update(extra)
    return args


def _has_template(value: Any) -> bool:
    if is_template(value):
        return True
    if isinstance(value, Mapping):
        return any(_has_template(k) or _has_template(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return False


def is_omittable(value: Any) -> bool:
    """An argument value that may turn out to be `omit` at run time (`{{ x | default(omit) }}`)."""
    return isinstance(value, str) and is_template(value) and re.search(r"\bomit\b", value) is not None


def unsupported_module_message(action: str) -> str:
    """"module X is not supported by hostprep", with the close names hostprep has."""
    from hostprep.modules import module_names

    close = close_names(action, module_names())
    hint = f" (close names: {', '.join(close)})" if close else ""
    return f"module {action!r} is not supported by hostprep{hint}"


def _check_args(cls: Any, args: dict[str, Any], src: TaskSource, line: int | None) -> None:
    if cls.accepts_any_args:
        if not _has_template(args):
            try:
                cls().validate(args)
            except InputError as exc:
                raise InputError(exc.message, file=str(src.file), line=line, key=exc.key) from None
        return
    names = set(cls.args)
    for spec in cls.args.values():
        names.update(spec.aliases)
    for key in args:
        if key not in names:
            if is_omittable(args[key]):
                continue  # `{{ x | default(omit) }}`: dropped at run time, refused there if it has a value
            raise InputError(f"{cls.name}: unsupported argument (known: {', '.join(sorted(cls.args))})",
                             file=str(src.file), line=line, key=str(key))
    if not _has_template(args):
        try:
            cls().validate(args)
        except InputError as exc:
            raise InputError(exc.message, file=str(src.file), line=line, key=exc.key) from None


def _special(module: str, raw: Any, keywords: dict, data: Mapping, ctx: LoadContext, src: TaskSource,
             line: int | None, handlers: bool) -> Any:
    name = data.get("name")
    if module == "meta":
        action = raw if isinstance(raw, str) else None
        allowed = ("flush_handlers", "noop", "end_play", "end_host", "clear_host_errors", "refresh_inventory",
                   "end_batch", "clear_facts", "reset_connection")
        if action not in allowed:
            raise InputError(f"meta: unsupported action {raw!r} (one of {', '.join(allowed)})",
                             file=str(src.file), line=line, key="meta")
        return Task(name=name, module="meta", args={"action": action}, keywords=keywords, file=str(src.file),
                    line=line, role=src.role, is_handler=handlers, uid=next(_uids))
    if module == "include":
        raise InputError("the bare `include` keyword was removed from Ansible; use include_tasks or import_tasks",
                         file=str(src.file), line=line, key="include")
    if module == "import_playbook":
        raise InputError("import_playbook is only valid at the top level of a playbook", file=str(src.file),
                         line=line, key="import_playbook")
    if isinstance(raw, Mapping):
        args = dict(raw)
    elif isinstance(raw, str):
        args = {"file" if module.endswith("_tasks") else "name": raw}
    else:
        raise InputError(f"{module} needs a file or role name", file=str(src.file), line=line, key=module)
    args.update(keywords.pop("args", None) or {})
    if module in ("import_tasks", "include_tasks"):
        allowed_args = {"file", "apply", "_raw_params"} if module == "include_tasks" else {"file", "_raw_params"}
        for key in args:
            if key not in allowed_args:
                raise InputError(f"{module}: unsupported argument", file=str(src.file), line=line, key=str(key))
        target = args.get("file") or args.get("_raw_params")
        if not target:
            raise InputError(f"{module} needs a file", file=str(src.file), line=line, key=module)
        if module == "import_tasks":
            if is_template(target):
                target = _static_name(str(target), ctx, src, line)
            path = _resolve_relative(str(target), src, ctx)
            tasks = load_task_file(path, ctx, src, handlers=handlers)
            if not keywords:
                return tasks
            # keywords on an import apply to every imported task: wrap them in a block
            return Block(block=tasks, rescue=[], always=[], keywords=keywords, file=str(src.file), line=line,
                         role=src.role, name=name)
        task = Task(name=name, module="include_tasks", args={"file": target, "apply": args.get("apply") or {}},
                    keywords=keywords, file=str(src.file), line=line, role=src.role, is_handler=handlers,
                    uid=next(_uids))
        if not is_template(target):
            # dynamic: a file that cannot be loaded is an error when (and only when) the include runs
            try:
                path = _resolve_relative(str(target), src, ctx)
                task.included = load_task_file(path, ctx, src, handlers=handlers)
                task.args["path"] = str(path)
            except InputError:
                task.included = None
        return task
    # include_role / import_role
    allowed = {"name", "tasks_from", "vars_from", "defaults_from", "handlers_from", "public", "apply",
               "allow_duplicates", "rolespec_validate"}
    for key in args:
        if key not in allowed:
            raise InputError(f"{module}: unsupported argument", file=str(src.file), line=line, key=str(key))
    role_name = args.get("name")
    if not role_name:
        raise InputError(f"{module} needs a role name", file=str(src.file), line=line, key=module)
    if module == "import_role" and "apply" in args:
        raise InputError("import_role: apply is for include_role (Ansible refuses it too)", file=str(src.file),
                         line=line, key="apply")
    if module == "import_role" and is_template(role_name):
        raise InputError("import_role is static: the role name cannot be a template", file=str(src.file),
                         line=line, key="name")
    validate = to_bool(args.get("rolespec_validate", True), "rolespec_validate")  # the role's argument spec check
    role = None
    if module == "include_role" and not is_template(role_name):
        try:  # dynamic: a role that cannot be loaded is an error when (and only when) the include runs
            role = ctx.load_role(str(role_name), params=dict(keywords.get("vars") or {}),
                                 tasks_from=args.get("tasks_from", "main"), vars_from=args.get("vars_from", "main"),
                                 defaults_from=args.get("defaults_from", "main"),
                                 handlers_from=args.get("handlers_from", "main"), where=(str(src.file), line),
                             validate=validate)
        except InputError:
            role = None
    elif not is_template(role_name):
        role = ctx.load_role(str(role_name), params=dict(keywords.get("vars") or {}),
                             tasks_from=args.get("tasks_from", "main"), vars_from=args.get("vars_from", "main"),
                             defaults_from=args.get("defaults_from", "main"),
                             handlers_from=args.get("handlers_from", "main"), where=(str(src.file), line),
                             validate=validate)
    task = Task(name=name, module="include_role", args=dict(args), keywords=keywords, file=str(src.file),
                line=line, role=src.role, is_handler=handlers, uid=next(_uids))
    task.included = [role] if role else None
    if module == "import_role":
        task.args["static"] = True
    return task
