"""A task's result applied to the run: stats, facts, register and notify (Ansible's
`_process_pending_results` is the model). Only the strategy calls `apply_result`; the task
runner returns results and never changes host state itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hostprep.executor.jsonfile_cache import cached_entry, split_entry
from hostprep.executor.state import HostState
from hostprep.playbook.model import Task
from hostprep.templating.templar import is_template
from hostprep.yamlsource import UnsafeText

SKIP_REASON = "Conditional result was False"


@dataclass
class TaskOutcome:
    """What running one task on one host gave: the (registered) result and how to show it."""

    result: dict[str, Any]
    title: str
    no_log: bool = False
    loop: bool = False  # a loop's aggregate (its items were shown as they ran)

    @property
    def status(self) -> str:
        return status_of(self.result)


def status_of(result: Mapping[str, Any]) -> str:
    """ok, changed, failed, skipped or unreachable."""
    if result.get("_hostprep_unreachable"):
        return "unreachable"
    if result.get("failed"):
        return "failed"
    if result.get("skipped"):
        return "skipped"
    return "changed" if result.get("changed") else "ok"


def apply_facts(host: HostState, result: Mapping[str, Any]) -> None:
    """Store facts a result returned at the precedence its module asks for."""
    facts = result.get("ansible_facts")
    if not isinstance(facts, Mapping) or result.get("failed"):
        return
    plain = [str(k) for k in facts if not str(k).startswith("ansible_")]
    if not result.get("_hostprep_include_vars") and not result.get("_hostprep_set_fact"):
        # as Ansible keeps a module's facts: ansible_hostname is the fact `hostname` (ansible_facts.hostname,
        # and the variable ansible_hostname); a name without the prefix is also a variable of its own
        facts = {(str(k)[len("ansible_"):] if str(k).startswith("ansible_") else k): v for k, v in facts.items()}
    if result.get("_hostprep_include_vars"):
        host.include_vars.update(facts)
    elif result.get("_hostprep_set_fact"):
        host.set_facts.update(facts)
        if result.get("_hostprep_cacheable"):  # kept in a persistent fact cache (jsonfile), as Ansible does
            host.cacheable.update(str(k) for k in facts)
    else:
        host.facts.update(facts)
        if result.get("_hostprep_gathered"):
            host.gathered = True
        else:
            host.module_facts.update(plain)


def load_cached_facts(host: HostState, cache: Any) -> None:
    """A host's facts from a persistent fact cache (ansible.cfg's fact_caching = jsonfile), as a run starts."""
    entry = cache.get(host.name)
    if entry is None:
        return
    facts, plain, gathered = split_entry(entry)
    host.facts.update(facts)
    host.module_facts.update(plain)
    host.cache_gathered = gathered


def save_cached_facts(host: HostState, cache: Any) -> None:
    """Write the host's facts (with cacheable set_facts) to the persistent fact cache."""
    if not host.facts and not host.cacheable:
        return
    cacheable = {k: host.set_facts[k] for k in host.cacheable if k in host.set_facts}
    cache.set(host.name, cached_entry(host.facts, host.module_facts, cacheable,
                                      host.gathered or host.cache_gathered))


def registered(result: Mapping[str, Any]) -> dict[str, Any]:
    """The value `register:` stores: the result without hostprep's internal keys.

    Every result that ran carries `failed`, as in Ansible. What a task returned is data, never a
    template: a message that quotes `{{ x }}` (an
    error's expression, a command's output) is not rendered again when a later task reads it."""
    out = {k: _as_data(v) for k, v in result.items() if not k.startswith("_hostprep")}
    if not out.get("skipped") and not result.get("_hostprep_loop"):
        out.setdefault("failed", False)  # every result that ran says whether it failed (`when: r.failed`)
    for item in out.get("results") or () if isinstance(out.get("results"), list) else ():
        if isinstance(item, dict) and "ansible_loop_var" in item and not item.get("skipped"):
            item.setdefault("failed", False)
    return out


def _as_data(value: Any) -> Any:
    if isinstance(value, str):
        return UnsafeText(value) if not isinstance(value, UnsafeText) and is_template(value) else value
    if isinstance(value, dict):
        return {k: _as_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_data(v) for v in value]
    return value


def apply_result(host: HostState, task: Task, outcome: TaskOutcome, ignore_unreachable: bool = False,
                 also: list[HostState] | None = None, state_for: Callable[[str], HostState] | None = None) -> None:
    """Count the result in the host's stats; store its facts and `register`; note its `notify`.

    `also` are the other hosts a `run_once` result is given to (facts and register, as Ansible
    does); stats and notifications stay with the host that ran it. A result of a `delegate_facts` task
    names the host its facts go to instead (`state_for` finds it).
    """
    result, status = outcome.result, outcome.status
    receivers = [host, *(also or [])]
    if status == "unreachable":
        if ignore_unreachable:
            host.stats.ignored += 1
        else:
            host.unreachable = True
            host.stats.unreachable = 1
        return
    # Like Ansible's strategy: a loop's per-item facts (set_fact with_dict, ...) apply in item order.
    for each in (result.get("results") or []) if outcome.loop else [result]:
        if isinstance(each, Mapping):
            to = each.get("_hostprep_facts_to")
            for target in [state_for(str(to))] if to and state_for is not None else receivers:
                apply_facts(target, each)
    if status == "failed":
        if result.get("_hostprep_ignored"):
            # Ansible counts an ignored failure as ok + ignored, and changed when it changed.
            host.stats.ignored += 1
            host.stats.ok += 1
            host.stats.changed += 1 if result.get("changed") else 0
        else:
            host.stats.failed += 1
            host.failed = True
            host.last_failure = (task, result)
    elif status == "skipped":
        host.stats.skipped += 1
    elif status == "changed":
        host.stats.changed += 1
        host.stats.ok += 1
    else:
        host.stats.ok += 1
    if status == "changed" or (status == "ok" and outcome.loop and result.get("changed")):
        notify = task.kw("notify")
        for name in [notify] if isinstance(notify, str) else notify or []:
            if name not in host.notified:
                host.notified.append(str(name))
    register(receivers, task, result)


def register(hosts: list[HostState], task: Task, result: Mapping[str, Any]) -> None:
    name = task.kw("register")
    if name:
        clean = registered(result)
        for host in hosts:
            host.set_facts[name] = clean
