"""ansible-playbook's everyday flags that work on the loaded playbook before any host is contacted.

--list-hosts, --list-tags and --list-tasks print what ansible-playbook prints (an oracle test compares
them); --start-at-task drops the tasks before the named one (statically known tasks, as Ansible's
note says: it can only follow static imports); --force-handlers sets the play keyword's default;
--flush-cache forgets the cached facts of the run's hosts; ansible.cfg's `gathering = explicit`
makes plays that do not say `gather_facts` skip it.
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from hostprep.errors import InputError
from hostprep.playbook.model import Block, Play, Playbook, Role, Task

if TYPE_CHECKING:
    from hostprep.inventory import Inventory


FLAG_NAMES = ("list_hosts", "list_tags", "start_at_task", "force_handlers", "flush_cache", "step",
              "connection_type", "ssh_common_args", "ssh_extra_args")


@dataclass
class PlayFlags:
    """The flags of this module, taken out of a command's kwargs."""

    list_hosts: bool = False
    list_tags: bool = False
    start_at_task: str | None = None
    force_handlers: bool = False
    flush_cache: bool = False
    step: bool = False


def play_flags(func):  # noqa: ANN001, ANN201 - click decorator stack
    decorators = [
        click.option("--list-hosts", is_flag=True, help="List the hosts each play would run on and exit."),
        click.option("--list-tags", is_flag=True, help="List the tags of each play's tasks and exit."),
        click.option("--start-at-task", help="Start at the first task with this name (a glob; 'role : name' too)."),
        click.option("--force-handlers", is_flag=True, help="Run notified handlers even on hosts that failed."),
        click.option("--flush-cache", is_flag=True, help="Forget the cached facts of the run's hosts first."),
        click.option("--step", is_flag=True, help="Ask before each task: (N)o / (y)es / (c)ontinue."),
        click.option("-c", "--connection", "connection_type",
                     type=click.Choice(["ssh", "smart", "paramiko", "local"]),
                     help="Connection type for hosts that set no ansible_connection (ssh or local)."),
        click.option("--ssh-common-args", help="Extra ssh options for every host (-o K=V, -J, -F; a host's "
                                               "ansible_ssh_common_args wins)."),
        click.option("--ssh-extra-args", help="Like --ssh-common-args (Ansible passes these to ssh only)."),
    ]
    for d in reversed(decorators):
        func = d(func)
    return func


def pop_play_flags(kwargs: dict[str, Any], connection: Any) -> PlayFlags:
    """Take this module's flags out of `kwargs`; the connection ones go into `connection`."""
    values = {name: kwargs.pop(name, None) for name in FLAG_NAMES}
    if connection is not None:
        if values["connection_type"]:
            connection.connection = "local" if values["connection_type"] == "local" else "ssh"
        for name in ("ssh_common_args", "ssh_extra_args"):
            if values[name]:
                setattr(connection, name, values[name])
    return PlayFlags(bool(values["list_hosts"]), bool(values["list_tags"]), values["start_at_task"],
                     bool(values["force_handlers"]), bool(values["flush_cache"]), bool(values["step"]))


class Stepper:
    """--step: before each task, ask as ansible-playbook does: (N)o skips it, (y)es runs it, (c)ontinue runs
    it and every task after it without asking. Read from the terminal, else one line of standard input."""

    def __init__(self, ask: Any = None) -> None:
        self._ask = ask or _ask_line
        self._continue = False
        self._lock = threading.Lock()

    def __call__(self, title: str) -> bool:
        with self._lock:
            if self._continue:
                return True
            answer = self._ask(f"Perform task: TASK: {title} (N)o/(y)es/(c)ontinue: ").strip().lower()
            if answer in ("c", "continue"):
                self._continue = True
                return True
            return answer in ("y", "yes")


def _ask_line(prompt: str) -> str:
    import sys

    sys.stderr.write(prompt)
    sys.stderr.flush()
    try:
        with open("/dev/tty") as tty:  # noqa: PTH123 - the terminal, even when stdin is redirected
            return tty.readline()
    except OSError:
        return sys.stdin.readline()


def _tags(value: Any) -> list[str]:
    if not value:
        return []
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]


def _entries(items: list[Any], inherited: frozenset[str]) -> list[tuple[Task, frozenset[str]]]:
    """Tasks in play order with their inherited tags; dynamic includes as themselves (not expanded)."""
    out: list[tuple[Task, frozenset[str]]] = []
    for item in items:
        if isinstance(item, Block):
            tags = inherited | frozenset(_tags(item.kw("tags")))
            out += _entries(item.block, tags) + _entries(item.rescue, tags) + _entries(item.always, tags)
        elif isinstance(item, Task):
            tags = inherited | frozenset(_tags(item.kw("tags")))
            if item.module == "include_role" and item.args.get("static") and item.included:
                role = item.included[0]
                out += _entries(role.tasks, tags | frozenset(role.tags))
            else:
                out.append((item, tags))
    return out


def play_entries(play: Play) -> list[tuple[Task, frozenset[str]]]:
    base = frozenset(_tags(play.kw("tags")))
    out = _entries(play.pre_tasks, base)
    for role in play.roles:
        out += _entries(role.tasks, base | frozenset(role.tags))
    return out + _entries(play.tasks, base) + _entries(play.post_tasks, base)


def _selected(tags: frozenset[str], only: set[str], skip: set[str]) -> bool:
    from hostprep.executor.scope import tags_selected

    return tags_selected(set(tags), only, skip)


def _header(index: int, play: Play) -> str:
    return f"  play #{index} ({play.hosts}): {play.name}\tTAGS: [{', '.join(sorted(_tags(play.kw('tags'))))}]"


def _listed_name(task: Task) -> str:
    """Ansible's task name: 'role : name' for a named role task, else the name, else the action."""
    if task.name and task.role is not None:
        return f"{task.role.name} : {task.name}"
    return str(task.name or task.action or task.module)


def listing(book: Playbook, inv: Inventory | None, *, hosts: bool, tags: bool, tasks: bool, only: set[str],
            skip: set[str], limit: str | None) -> str:
    """ansible-playbook's --list-hosts / --list-tags / --list-tasks text."""
    lines = ["", f"playbook: {book.path}"]
    for index, play in enumerate(book.plays, 1):
        lines += ["", _header(index, play)]
        entries = [(t, tg) for t, tg in play_entries(play) if _selected(tg, only, skip)]
        if hosts and inv is not None:
            pattern = str(play.hosts)
            names = [h.name for h in inv.select(pattern)]
            if limit:
                allowed = {h.name for h in inv.select(limit)}
                names = [n for n in names if n in allowed]
            lines.append(f"    pattern: ['{pattern}']")
            lines.append(f"    hosts ({len(names)}):")
            lines += [f"      {n}" for n in names]
        if tasks:
            lines.append("    tasks:")
            lines += [f"      {_listed_name(task)}\tTAGS: [{', '.join(sorted(tg))}]" for task, tg in entries]
        if tags:
            all_tags = sorted({t for _task, tg in entries for t in tg})
            lines.append(f"      TASK TAGS: [{', '.join(all_tags)}]")
    return "\n".join(lines) + "\n"


def _matches(task: Task, pattern: str) -> bool:
    names = [n for n in (task.name and str(task.name), task.display_name) if n]
    return any(n == pattern or fnmatch.fnmatch(n, pattern) for n in names)


def _drop_before(items: list[Any], pattern: str) -> tuple[list[Any], bool]:
    """The items from the first task matching `pattern` on (blocks cut inside), and whether it was found."""
    for index, item in enumerate(items):
        if isinstance(item, Block):
            body, found = _drop_before(item.block, pattern)
            if found:
                cut = Block(block=body, rescue=item.rescue, always=item.always, keywords=item.keywords,
                            file=item.file, line=item.line, role=item.role, name=item.name)
                return [cut, *items[index + 1:]], True
        elif isinstance(item, Task):
            if _matches(item, pattern):
                return items[index:], True
            if item.module == "include_role" and item.args.get("static") and item.included:
                role: Role = item.included[0]
                body, found = _drop_before(role.tasks, pattern)
                if found:
                    role.tasks = body
                    return items[index:], True
    return [], False


def start_at_task(book: Playbook, pattern: str) -> None:
    """Drop every task before the first one matching `pattern` (plays before it keep only fact gathering)."""
    for play in book.plays:
        play.pre_tasks, found = _drop_before(play.pre_tasks, pattern)
        if found:
            return
        for role in play.roles:
            role.tasks, found = _drop_before(role.tasks, pattern)
            if found:
                return
        play.tasks, found = _drop_before(play.tasks, pattern)
        if found:
            return
        play.post_tasks, found = _drop_before(play.post_tasks, pattern)
        if found:
            return
    raise InputError(f"--start-at-task: no task matches {pattern!r} (only statically known tasks can be "
                     "started at, as in Ansible)")


def set_play_defaults(book: Playbook, *, force_handlers: bool, gathering: str) -> None:
    """Command-line and configuration defaults that a play's own keyword overrides."""
    for play in book.plays:
        if force_handlers and "force_handlers" not in play.keywords:
            play.keywords["force_handlers"] = True
        if gathering == "explicit" and "gather_facts" not in play.keywords:
            play.keywords["gather_facts"] = False


def flush_fact_cache(inv: Inventory, limit: str | None, fact_cache: Any = None) -> int:
    """Remove the cached facts of the inventory's hosts (or the --limit ones): hostprep's probe cache and
    ansible.cfg's persistent fact cache (jsonfile); returns how many hosts had any."""
    from hostprep.executor.factcache import _path

    hosts = inv.select(limit) if limit else list(inv.hosts.values())
    removed = 0
    for host in hosts:
        path = _path(host.name, inv.host_vars(host.name))
        had = fact_cache.flush(host.name) if fact_cache is not None else False
        if path.exists():
            path.unlink()
            had = True
        removed += had
    return removed
