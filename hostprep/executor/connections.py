"""One transport per host for the whole run, with the fast path wired in (prober.py).

A host's transport asks the look-ahead of the play being run (set per play with `use`) for
the probes and checks ahead of its current task.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from hostprep.errors import InputError
from hostprep.executor.factcache import load_facts
from hostprep.executor.lookahead import Lookahead
from hostprep.executor.prober import ProbingTransport
from hostprep.executor.state import UNREAD, HostState, RunOptions
from hostprep.inventory import Inventory
from hostprep.transport.connect import open_transport
from hostprep.transport.local import LocalTransport


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

    def transport_for(self, host: HostState, delegate: Any = None) -> Any:
        """The transport of `host`, or of the host a task is delegated to."""
        if delegate in (None, "", host.name):
            if host.transport is None:
                host.transport = self._open(host)
            return host.transport
        if delegate in ("localhost", "127.0.0.1"):
            return LocalTransport("localhost")
        target = self.states.get(str(delegate))
        if target is None:
            if str(delegate) not in self.inventory.hosts:
                raise InputError(f"delegate_to: unknown host {delegate!r}")
            target = self.state_for(str(delegate))
        return self.transport_for(target, None)

    def _open(self, host: HostState) -> Any:
        transport = open_transport(host.name, host.inv_vars, self.options.connection)
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
                state.stats.round_trips = state.transport.round_trips
                try:
                    state.transport.close()
                except Exception:  # noqa: BLE001 - closing must not hide the run's result
                    pass
