"""The variables of a host at a task, built in one place (Ansible's VariableManager is the model).

Every layer a task sees is merged here by Ansible's precedence, lowest first: role defaults,
inventory, facts, play vars, vars_files, role vars, block vars, task vars, include_vars,
set_fact/register, role params, include params, magic variables, extra vars. The run and the
fast path's look-ahead both ask `PlayVars.for_task`, so they can never disagree.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hostprep import __version__
from hostprep.errors import InputError
from hostprep.executor.scope import Scope, merged
from hostprep.executor.state import HostState, HostVars, RunOptions, fact_vars
from hostprep.playbook.model import Play, Role, Task
from hostprep.templating import Templar
from hostprep.yamlsource import load_yaml_file

ANSIBLE_VERSION = {"full": "2.16.0", "major": 2, "minor": 16, "revision": 0, "string": "2.16.0"}


def _role_names(roles: list[Role]) -> tuple[list[str], list[str]]:
    """(roles the play names, roles pulled in as dependencies): the play's role list holds both, expanded."""
    deps: list[str] = []

    def walk(role: Role) -> None:
        for dep in role.dependencies:
            if dep.name not in deps:
                deps.append(dep.name)
            walk(dep)

    for role in roles:
        walk(role)
    named = [r.name for r in roles if r.name not in deps]
    return list(dict.fromkeys(named)), deps


class PlayVars:
    """The variable sources of one play: its vars, vars_files, roles, hosts and the run's options."""

    def __init__(self, play: Play, options: RunOptions, hostvars: HostVars,
                 states: Mapping[str, HostState]) -> None:
        self.play = play
        self.options = options
        self.hostvars = hostvars
        self.states = states  # the hosts met so far in the run (a host not in it has not started yet)
        self.play_hosts: list[str] = []  # every host of the play, in the play's order
        self.batch: list[str] = []  # the hosts of the current serial batch
        self._vars_files: dict[str, dict[str, Any]] = {}
        # include_role public: true roles, in the order they ran: their variables are the play's from then on
        # (Ansible adds the role to the play's roles when the include runs, for every host)
        self.public_roles: list[Role] = []
        self._lock = threading.Lock()

    def magic(self, host: HostState, role: Role | None) -> dict[str, Any]:
        """Ansible's magic variables for `host` (inventory_hostname, groups, ansible_play_hosts, ...)."""
        magic = {
            "hostvars": self.hostvars,
            "inventory_hostname": host.name,
            "inventory_hostname_short": host.name.split(".")[0],
            "group_names": host.inv_vars.get("group_names", []),
            "groups": host.inv_vars.get("groups", {}),
            "play_hosts": list(self.batch),
            "ansible_play_hosts": [h for h in self.play_hosts if h not in self.states or self.states[h].active],
            "ansible_play_hosts_all": list(self.play_hosts),
            "ansible_play_batch": list(self.batch),
            "ansible_play_name": self.play.name,
            "playbook_dir": str(self.play.basedir),
            "ansible_check_mode": self.options.check,
            "ansible_diff_mode": self.options.diff,
            "ansible_run_tags": sorted(self.options.tags) or ["all"],
            "ansible_skip_tags": sorted(self.options.skip_tags),
            "ansible_verbosity": self.options.verbosity,
            "ansible_forks": self.options.forks,
            "ansible_version": dict(ANSIBLE_VERSION),
            "hostprep_version": __version__,
            "ansible_playbook_python": sys.executable,  # the control node's Python, as Ansible names it
        }
        if self.options.limit:
            magic["ansible_limit"] = self.options.limit
        play_roles, dep_roles = _role_names(self.play.roles)
        # Ansible builds ansible_role_names from a set (no order to rely on): sorted here
        magic.update(ansible_play_role_names=play_roles, role_names=play_roles,
                     ansible_dependent_role_names=dep_roles, ansible_role_names=sorted({*play_roles, *dep_roles}))
        if role is not None:
            magic.update(role_name=role.name, role_path=str(role.path), ansible_role_name=role.name)
        return magic

    def vars_files(self, host: HostState) -> dict[str, Any]:
        """The play's vars_files for `host` (a list entry: the first file that exists), each read once."""
        out: dict[str, Any] = {}
        for entry in self.play.vars_files:
            candidates = entry if isinstance(entry, list) else [entry]
            for cand in candidates:
                name = str(cand)
                if "{{" in name:
                    name = str(Templar({**host.inv_vars, **self.options.extra_vars, **self.play.vars}).render(name))
                path = Path(name) if Path(name).is_absolute() else self.play.basedir / name
                if path.exists():
                    out.update(self._read_vars_file(path))
                    break
            else:
                raise InputError(f"none of the vars files {candidates} was found", file=self.play.file,
                                 key="vars_files")
        return out

    def _read_vars_file(self, path: Path) -> dict[str, Any]:
        with self._lock:
            if str(path) not in self._vars_files:
                data = load_yaml_file(path) or {}
                if not isinstance(data, Mapping):
                    raise InputError("a vars file must hold a mapping", file=str(path))
                self._vars_files[str(path)] = dict(data)
            return self._vars_files[str(path)]

    def role_layers(self, role: Role | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """(defaults, vars) visible to a task: every play role's (`roles:`, import_role, include_role public:
        true once run; Ansible's DEFAULT_PRIVATE_ROLE_VARS false), the task's own role on top."""
        defaults: dict[str, Any] = {}
        role_vars: dict[str, Any] = {}
        for r in [*self.play.roles, *self.play.imported_roles, *self.public_roles]:
            if r is not role:
                defaults.update(r.defaults)
                role_vars.update(r.vars)
        if role is not None:
            defaults.update(role.defaults)
            role_vars.update(role.vars)
        return defaults, role_vars

    def add_public_role(self, role: Role) -> None:
        """An include_role with public: true ran: its variables are the play's from now on."""
        with self._lock:
            if all(r.path != role.path or r.params != role.params or r.vars != role.vars for r in self.public_roles):
                self.public_roles.append(role)

    def for_task(self, host: HostState, task: Task, scope: Scope) -> Mapping[str, Any]:
        """All variables for `task` on `host`, by Ansible's precedence (lowest first)."""
        role = task.role or scope.role
        defaults, role_vars = self.role_layers(role)
        block_vars: dict[str, Any] = {}
        for layer in scope.block_vars:
            block_vars.update(layer)
        role_params = {k: v for k, v in (role.params if role else {}).items() if not k.startswith("__kw_")}
        return merged(
            defaults, host.inv_vars, fact_vars(host.facts, host.module_facts), self.play.vars,
            self.vars_files(host), role_vars, block_vars, dict(task.kw("vars") or {}), host.include_vars,
            host.set_facts, role_params, scope.include_params, self.magic(host, role), self.options.extra_vars,
        )

    def play_level(self, host: HostState) -> dict[str, Any]:
        """A host's variables before any task: inventory, play vars, extra vars (facts gathering's become)."""
        return {**host.inv_vars, **self.play.vars, **self.options.extra_vars}

    def for_play(self) -> Templar:
        """A templar for play-level values (hosts pattern, gather_facts, serial): extra vars over play vars."""
        return Templar({**self.play.vars, **self.options.extra_vars})
