"""Per-host state during a run, and the options of the run."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hostprep.output.events import HostStats
from hostprep.transport.base import Transport
from hostprep.transport.options import ConnectionOptions

UNREAD: Any = object()  # HostState.last_facts before the fact cache was read


@dataclass
class RunOptions:
    """What the user asked for on the command line."""

    check: bool = False
    diff: bool = False
    forks: int = 50
    tags: set[str] = field(default_factory=set)
    skip_tags: set[str] = field(default_factory=set)
    limit: str | None = None
    extra_vars: dict[str, Any] = field(default_factory=dict)
    verbosity: int = 0
    start_at_task: str | None = None
    no_fast_path: bool = False  # every probe in its own round trip (for comparison and debugging)
    # -u, -k, -K, -b, --become-method, ...: layered under each host's variables by transport/connect.py
    connection: ConnectionOptions | None = None
    step: Any = None  # --step: called with a task's title before it runs; False skips the task
    strategy: str | None = None  # the default strategy of plays that name none (None: $ANSIBLE_STRATEGY or linear)
    strategy_origin: str = ""  # where `strategy` was set (ansible.cfg's file and key, or $ANSIBLE_STRATEGY)
    gathering: str = "implicit"  # ansible.cfg's gathering (smart: hosts whose facts are cached are not gathered)
    fact_cache: Any = None  # ansible.cfg's fact_caching = jsonfile (jsonfile_cache.JsonFileCache), None: memory


@dataclass
class TaskStatus:
    """The task the hosts of a batch are on together (linear strategy) and how many are done with it.

    Read by the progress display; empty (`title` "") while hosts are not in lockstep (free strategy).
    """

    title: str = ""
    total: int = 0
    done: int = 0
    handler: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, title: str, total: int, handler: bool = False) -> None:
        with self.lock:
            self.title, self.total, self.done, self.handler = title, total, 0, handler

    def one_done(self) -> None:
        with self.lock:
            self.done += 1

    def clear(self) -> None:
        self.start("", 0)

    def read(self) -> tuple[str, int, int, bool]:
        with self.lock:
            return self.title, self.done, self.total, self.handler


@dataclass
class HostState:
    """Everything the run knows about one host: its variables, facts, results and counters."""

    name: str
    inv_vars: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)
    set_facts: dict[str, Any] = field(default_factory=dict)
    include_vars: dict[str, Any] = field(default_factory=dict)
    failed: bool = False
    unreachable: bool = False
    ended: bool = False
    notified: list[str] = field(default_factory=list)
    stats: HostStats = field(default_factory=HostStats)
    transport: Transport | None = None
    transport_keywords: tuple[tuple[str, Any], ...] = ()  # remote_user/connection it was opened with
    lock: threading.Lock = field(default_factory=threading.Lock)
    module_facts: set[str] = field(default_factory=set)  # fact names set by modules (see fact_vars)
    gathered: bool = False  # facts gathered in this run
    cache_gathered: bool = False  # a persistent fact cache says this host's facts were gathered (gathering = smart)
    cacheable: set[str] = field(default_factory=set)  # set_fact names with cacheable: true (kept in a fact cache)
    last_facts: Any = UNREAD  # last run's facts from the fact cache, read once (PlayRunner.last_facts)
    current_task: Any = None  # the task being run (where the fast path's lookahead starts)
    current_title: str | None = None  # that task's name as shown (rendered: "{{ item }}" names resolved)
    walk_pos: int = 0
    last_failure: tuple[Any, dict[str, Any]] | None = None  # (task, result) of the last failure, for rescue
    rescues: int = 0  # how many times a block's rescue took over a failure (the strategy compares it)
    # what the last include_tasks/include_role step brought in for this host, as Ansible reports it:
    # (file or role, item label or None) per entry, or ("", None) when its condition skipped it
    included: list[tuple[str, Any]] = field(default_factory=list)
    # roles (loader.role_identity) a task of which ran for this host: an include_role's dependencies that ran
    # already are not run again (Ansible's role has_run)
    roles_run: list[tuple[str, str]] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return not (self.failed or self.unreachable or self.ended)

    def enter_rescue(self) -> None:
        """The host's failure is rescued: it is active again and the failed task is visible to the rescue."""
        self.failed = False
        self.rescues += 1
        if self.last_failure is None:  # failed by the play (any_errors_fatal), not by a task of its own
            return
        self.stats.failed = max(0, self.stats.failed - 1)
        self.stats.rescued += 1
        task, result = self.last_failure
        self.last_failure = None
        self.set_facts["ansible_failed_task"] = {"name": task.name or "", "action": task.action or task.module}
        self.set_facts["ansible_failed_result"] = {k: v for k, v in result.items() if not k.startswith("_hostprep")}

    def visible_vars(self) -> dict[str, Any]:
        """What `hostvars[this host]` shows: inventory vars, facts, set_fact/registered values."""
        out = dict(self.inv_vars)
        out.update(fact_vars(self.facts, self.module_facts))
        out.update(self.include_vars)
        out.update(self.set_facts)
        return out


def fact_vars(facts: Mapping[str, Any], plain: Iterable[str] = ()) -> dict[str, Any]:
    """Facts as Ansible exposes them: `ansible_facts` and each fact as `ansible_<name>`.

    Facts a module returned (getent_passwd, packages, services, ...) are also variables under
    their own name, as Ansible injects them (`plain` names those).
    """
    out: dict[str, Any] = {"ansible_facts": dict(facts)}
    for k, v in facts.items():
        out[f"ansible_{k}"] = v
    for k in plain:
        if k in facts:
            out[k] = facts[k]
    return out


class HostVars(Mapping):
    """`hostvars`: every host's variables, read when used."""

    def __init__(self, states: Mapping[str, HostState], inventory: Any, playbook_dir: Any) -> None:
        self._states = states
        self._inventory = inventory
        self._playbook_dir = playbook_dir

    def __getitem__(self, name: str) -> dict[str, Any]:
        if name in self._states:
            return self._states[name].visible_vars()
        if name in self._inventory.hosts:
            return self._inventory.host_vars(name, self._playbook_dir)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._inventory.hosts)

    def __len__(self) -> int:
        return len(self._inventory.hosts)
