"""Running a playbook: each play's hosts (pattern, --limit, `order`), its `serial` batches, and
the strategy that walks each batch through the play (linear.py by default, free.py on request).

The strategy of every play is checked before any host is touched: `strategy:` in the play,
else the run's default (`RunOptions.strategy`, `$ANSIBLE_STRATEGY`), else linear.
"""

from __future__ import annotations

import math
import os
import random
import threading
from typing import Any

from hostprep.errors import InputError
from hostprep.executor.connections import Connections
from hostprep.executor.free import FreeStrategy
from hostprep.executor.iterator import PlayIterator
from hostprep.executor.linear import LinearStrategy
from hostprep.executor.lookahead import Lookahead
from hostprep.executor.results import load_cached_facts
from hostprep.executor.state import HostState, HostVars, RunOptions, TaskStatus
from hostprep.executor.strategy import PlayRun, Strategy
from hostprep.executor.variables import PlayVars
from hostprep.inventory import Inventory
from hostprep.output.events import HostStats
from hostprep.playbook.model import Play, Playbook
from hostprep.templating import Templar, TemplateError
from hostprep.values import to_bool

STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in (LinearStrategy, FreeStrategy)}
ORDERS = ("inventory", "reverse_inventory", "sorted", "reverse_sorted", "shuffle")


def default_strategy(options: RunOptions, environ: Any = None) -> tuple[str, str]:
    """(strategy, where it was set) for plays that name none.

    $HOSTPREP_STRATEGY, then the run's default (ansible.cfg's `strategy` or $ANSIBLE_STRATEGY, read by the
    CLI), then $ANSIBLE_STRATEGY (for runs not started by the CLI), then linear.
    """
    environ = os.environ if environ is None else environ
    if environ.get("HOSTPREP_STRATEGY"):
        return environ["HOSTPREP_STRATEGY"], "$HOSTPREP_STRATEGY"
    if options.strategy:
        return options.strategy, options.strategy_origin or "the run's options"
    if environ.get("ANSIBLE_STRATEGY"):
        return environ["ANSIBLE_STRATEGY"], "$ANSIBLE_STRATEGY"
    return "linear", "the default"


def _short(name: str) -> str:
    return name[len("ansible.builtin."):] if name.startswith("ansible.builtin.") else name


def play_strategy(play: Play, options: RunOptions) -> str:
    """The strategy of a play; anything but linear and free is refused, naming where it was set."""
    value = play.kw("strategy")
    if value is None:
        name, where = default_strategy(options)
        if _short(str(name)) not in STRATEGIES:
            raise InputError(f"unknown strategy {name!r} (set by {where}): hostprep runs "
                             f"{' and '.join(STRATEGIES)}")
        return _short(str(name))
    if not isinstance(value, str) or _short(value) not in STRATEGIES:
        raise InputError(f"strategy {value!r} is not supported: hostprep runs {' and '.join(STRATEGIES)}",
                         file=play.file, line=play.line, key="strategy")
    return _short(value)


def check_plays(playbook: Playbook, options: RunOptions) -> None:
    """Refuse a bad `strategy` or `order` before any host is touched."""
    for play in playbook.plays:
        play_strategy(play, options)
        order = play.kw("order")
        if order is not None and order not in ORDERS:
            raise InputError(f"order {order!r} is not one of {', '.join(ORDERS)}", file=play.file,
                             line=play.line, key="order")


def ordered(names: list[str], order: str | None) -> list[str]:
    """The play's hosts in the order its `order:` asks for (inventory order by default)."""
    if order in (None, "inventory"):
        return list(names)
    if order == "reverse_inventory":
        return list(reversed(names))
    if order == "sorted":
        return sorted(names)
    if order == "reverse_sorted":
        return sorted(names, reverse=True)
    shuffled = list(names)
    random.shuffle(shuffled)
    return shuffled


def batches(names: list[str], serial: Any) -> list[list[str]]:
    """`serial` batches: a number, a percentage, or a list of them (the last one repeats)."""
    if serial is None:
        return [names]
    sizes = serial if isinstance(serial, list) else [serial]
    out, i, k = [], 0, 0
    while i < len(names):
        spec = sizes[min(k, len(sizes) - 1)]
        if isinstance(spec, str) and spec.strip().endswith("%"):
            size = max(1, math.floor(len(names) * float(spec.strip()[:-1]) / 100))
        else:
            size = int(spec) if int(spec) > 0 else len(names)
        out.append(names[i:i + size])
        i += size
        k += 1
    return out


class PlayRunner:
    """Runs one play over its hosts, batch by batch, with the play's strategy."""

    def __init__(self, playbook_runner: PlaybookRunner, play: Play) -> None:
        self.pb = playbook_runner
        self.play = play
        self.options = playbook_runner.options
        self.play_vars = PlayVars(play, self.options, playbook_runner.hostvars, playbook_runner.states)

    def hosts(self) -> list[str]:
        pattern = self.play.hosts
        if isinstance(pattern, list):
            pattern = ",".join(map(str, pattern))
        pattern = str(Templar(self.options.extra_vars).render(str(pattern)))
        inventory = self.pb.inventory
        names = [h.name for h in inventory.select(pattern)]
        if self.options.limit:
            allowed = {h.name for h in inventory.select(self.options.limit)}
            names = [n for n in names if n in allowed]
        return ordered(names, self.play.kw("order"))

    def run(self) -> bool:
        """Run the play; True when the playbook stops after it (as ansible-playbook does when every host of a
        batch failed in this play, or max_fail_percentage/any_errors_fatal ended it): later plays don't start."""
        names = self.hosts()
        if self.pb.cancelled.is_set():  # Ctrl-C: a later play does not start; its hosts did not finish
            for name in names:
                state = self.pb.state_for(name)
                state.ended = True
                state.stats.interrupted = True
            return False  # each later play marks its own hosts
        if not names:
            self.pb.output.warn(f"no hosts matched the play's hosts ({self.play.hosts}) and --limit")
            self.pb.output.play(self.play.name)
            self.pb.output.no_hosts_matched()
            return False
        self.pb.output.play(self.play.name)
        gather = to_bool(self.play_vars.for_play().render(self.play.kw("gather_facts", True)), "gather_facts")
        iterator = PlayIterator(self.play, gather=gather,
                                force_handlers=to_bool(self.play.kw("force_handlers", False), "force_handlers"))
        lookahead = Lookahead(self.play_vars)
        self.pb.connections.use(lookahead)
        run = PlayRun(self.play_vars, iterator, self.pb.connections, lookahead, self.pb.output, self.pb.cancelled,
                      self.pb.task_status)
        strategy = STRATEGIES[play_strategy(self.play, self.options)](run)
        self.play_vars.play_hosts = names
        for batch in batches(names, self.play.kw("serial")):
            self.play_vars.batch = batch
            states = [self.pb.state_for(n) for n in batch]
            active = [s for s in states if s.active]
            if active:
                strategy.run_batch(active)
            if self._stop_after(active, len(batch)):
                return True
        return False

    def _stop_after(self, states: list[HostState], batch_size: int) -> bool:
        """After a batch: the play, and with it the playbook, stops when every host of the batch failed in it
        (hosts that had failed in an earlier play count as not failed here, as in ansible-playbook), when
        max_fail_percentage is exceeded, or any_errors_fatal saw a failure."""
        failed = [s for s in states if s.failed or s.unreachable]
        if not states or not failed:
            return False
        mfp = self.play.kw("max_fail_percentage")
        if mfp is not None and len(failed) * 100.0 / len(states) > float(mfp):
            self.pb.output.warn(f"max_fail_percentage {mfp}% exceeded in a batch: stopping the play")
            # ansible-playbook's linear strategy announces it twice (once for the percentage, once because
            # no host is left); what a person reads is kept the same
            self.pb.output.no_hosts_left()
            self.pb.output.no_hosts_left()
            return True
        return len(failed) == batch_size or to_bool(self.play.kw("any_errors_fatal", False), "any_errors_fatal")


class PlaybookRunner:
    """Runs every play of a playbook and keeps the per-host results for the recap."""

    def __init__(self, playbook: Playbook, inventory: Inventory, options: RunOptions, output: Any) -> None:
        check_plays(playbook, options)
        self.playbook = playbook
        self.inventory = inventory
        self.options = options
        self.output = output
        self.states: dict[str, HostState] = {}
        self._states_lock = threading.Lock()
        self.cancelled = threading.Event()  # set on Ctrl-C (cli/interrupt.py): no new task or step starts
        self.hostvars = HostVars(self.states, inventory, playbook.basedir)
        self.connections = Connections(inventory, options, self.states, self.state_for)
        self.task_status = TaskStatus()  # read by the progress display (attach)

    def state_for(self, name: str) -> HostState:
        with self._states_lock:
            if name not in self.states:
                state = HostState(name, self.inventory.host_vars(name, self.playbook.basedir))
                if self.options.fact_cache is not None:
                    load_cached_facts(state, self.options.fact_cache)
                self.states[name] = state
            return self.states[name]

    def run(self) -> dict[str, HostStats]:
        try:
            for play in self.playbook.plays:
                for state in self.states.values():
                    state.ended = False
                if PlayRunner(self, play).run():
                    break
        finally:
            self.connections.close_all()
        stats = {name: self.states[name].stats for name in sorted(self.states)}  # Ansible's recap is sorted
        self.output.recap(stats)
        return stats


def exit_code(stats: dict[str, HostStats], detailed: bool) -> int:
    """0 ok; 2 changed (with --detailed-exitcode); 1 a task failed; 4 a host unreachable (none failed)."""
    if any(s.failed for s in stats.values()):
        return 1
    if any(s.unreachable for s in stats.values()):
        return 4
    if detailed and any(s.changed for s in stats.values()):
        return 2
    return 0


__all__ = ["PlaybookRunner", "RunOptions", "exit_code", "TemplateError"]
