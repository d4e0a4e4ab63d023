"""One transport per host for the whole run, with the fast path wired in (prober.py).

A host's transport asks the look-ahead of the play being run (set per play with `use`) for
the probes and checks ahead of its current task.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from typing import Any

from hostprep.errors import InputError
from hostprep.executor.factcache import load_facts
from hostprep.executor.lookahead import Lookahead
from hostprep.executor.prober import ProbingTransport
from hostprep.executor.state import UNREAD, HostState, RunOptions
from hostprep.inventory import Inventory
from hostprep.transport.connect import open_transport
from hostprep.transport.local import LocalTransport
from hostprep.transport.options import ConnectionOptions


def _connection_type(value: Any) -> str:
    """The transport for a `connection:` keyword: local, or ssh (smart and paramiko are ssh here)."""
    text = str(value)
    if text in ("ssh", "smart", "paramiko"):
        return "ssh"
    if text == "local":
        return "local"
    raise InputError(f"connection: {text!r} is not supported by hostprep (ssh and local are)", key="connection")


class Connections:
    """Opens each host's transport once (on first use) and closes them all at the end of the run."""

    def __init__(self, inventory: Inventory, options: RunOptions, states: dict[str, HostState],
                 state_for: Callable[[str], HostState]) -> None:
        self.inventory = inventory
        self.options = options
        self.states = states
        self.state_for = state_for
        self.lookahead: Lookahead | None = None  # the current play's (set by `use`)
        self._lock = threading.Lock()

    def use(self, lookahead: Lookahead) -> None:
        """The play now running: its look-ahead answers every host's guesses from now on."""
        self.lookahead = lookahead

    def last_facts(self, host: HostState) -> dict[str, Any] | None:
        """Last run's facts of the host (read from the fact cache once per run), None if never seen."""
        if host.last_facts is UNREAD:
            host.last_facts = load_facts(host.name, host.inv_vars)
        return host.last_facts

    def transport_for(self, host: HostState, delegate: Any = None, keywords: Mapping[str, Any] | None = None) -> Any:
        """The transport of `host`, or of the host a task is delegated to.

        `keywords` are the remote_user/connection keywords in force: a transport opened with others is
        closed and a new one opened (Ansible connects per task with the keywords of that task).
        """
        if delegate in (None, "", host.name):
            key = tuple(sorted((keywords or {}).items()))
            if host.transport is not None and host.transport_keywords != key:
                host.stats.round_trips += host.transport.round_trips
                host.transport.close()
                host.transport = None
            if host.transport is None:
                host.transport = self._open(host, dict(key))
                host.transport_keywords = key
            return host.transport
        if delegate in ("localhost", "127.0.0.1"):
            return LocalTransport("localhost")
        target = self.states.get(str(delegate))
        if target is None:
            if str(delegate) not in self.inventory.hosts:
                raise InputError(f"delegate_to: unknown host {delegate!r}")
            target = self.state_for(str(delegate))
        return self.transport_for(target, None)

    def delegate_label(self, delegate: Any) -> str:
        """How Ansible's output names the host a task is delegated to: `ok: [web1 -> db1(10.0.0.5)]`, its name
        and, when it differs, its ansible_host."""
        name = str(delegate)
        if name not in self.inventory.hosts:
            return name
        address = str(self.state_for(name).inv_vars.get("ansible_host") or name)
        return name if address == name else f"{name}({address})"

    def _open(self, host: HostState, keywords: dict[str, Any] | None = None) -> Any:
        options = self.options.connection
        if keywords:  # keywords sit over the command line and under the host's own variables
            options = dataclasses.replace(options or ConnectionOptions(), **{
                {"remote_user": "user", "connection": "connection", "port": "port"}[k]:
                _connection_type(v) if k == "connection" else int(v) if k == "port" else str(v)
                for k, v in keywords.items()})
        transport = open_transport(host.name, host.inv_vars, options)
        if self.options.verbosity >= 3:  # -vvv: every round trip and the connection's details, no secrets
            from hostprep.output.trace import TracingTransport

            transport = TracingTransport(transport, host.name)
        if self.options.no_fast_path:
            return transport
        probing = ProbingTransport(transport)
        probing.lookahead = lambda limit=None: self._probes(host, limit)
        probing.checks_ahead = lambda: self._checks(host)
        if self.last_facts(host) is None:
            probing.expect_changes()  # a host never seen before: most tasks will change it
        return probing

    def _probes(self, host: HostState, limit: int | None) -> list[Any]:
        return [] if self.lookahead is None else self.lookahead.probes(host, limit)

    def _checks(self, host: HostState) -> list[Any]:
        return [] if self.lookahead is None else self.lookahead.checks(host)

    def close_all(self) -> None:
        for state in list(self.states.values()):
            if state.transport is not None:
                state.stats.round_trips += state.transport.round_trips  # a reopened transport added its own
                try:
                    state.transport.close()
                except Exception:  # noqa: BLE001 - closing must not hide the run's result
                    pass
