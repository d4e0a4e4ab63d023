"""A live progress display for fleets (rich), with Ansible-like lines for what matters above it.

`hostprep apply --progress auto|bar|lines` (`choose.choose_mode`):
- `auto` (the default): the live display when stdout is a terminal (not TERM=dumb), `--json` is off
  and the run targets more than one host; plain Ansible-like lines (`HumanOutput`) otherwise.
- `bar`: the live display even for one host (on a non-terminal, rich prints only its final state).
- `lines`: plain lines. `--json` always means JSON lines, whatever `--progress` says.

With the live display, lines are printed above it, each naming its task
(`changed: [web1] TASK [docker : Install packages]`), because the lines of hosts that are at
different tasks interleave:
- changed, failed (and `...ignoring` under an ignored failure), unreachable: always;
- ok (debug output included): only when the run targets at most `OK_LINES_MAX_HOSTS` hosts, or with -v;
- skipped: only with -v;
- PLAY headers, warnings, and --diff of what changed.
What is not printed is counted: the display shows the counts, and a line before the PLAY RECAP says
how many ok/skipped results were not shown.

The display shows the current play, a bar and `done/total hosts` for it, the hosts that changed,
failed or were unreachable, the task results so far, the task(s) hosts are on now (most hosts
first) and the elapsed time; after a first Ctrl-C, a line saying that the steps in flight finish and
nothing new starts. The PLAY RECAP is printed below the display's final state at the end.

Everything shown comes from censored events (`result_line`) or counters: no result values, hence
no secrets, reach the display itself.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from hostprep.output.events import INTERRUPT_NOTICE, HostStats, TaskEvent
from hostprep.output.human import banner, recap_lines, result_line

OK_LINES_MAX_HOSTS = 10  # above this many hosts, ok lines are counted, not printed (unless -v)


@dataclass
class Snapshot:
    """What the live display shows at one moment (pure data, rendered by `view`)."""

    play: str = ""
    play_number: int = 0
    plays: int = 0
    total: int = 0  # hosts of the current play
    done: int = 0  # of those, the ones whose play is over
    hosts_changed: int = 0
    hosts_failed: int = 0
    hosts_unreachable: int = 0
    results: dict[str, int] = field(default_factory=dict)  # ok / changed / failed / skipped, as in the recap
    now: list[tuple[str, int]] = field(default_factory=list)  # (task, hosts on it), most hosts first
    task: str = ""  # under the linear strategy: the task every host of the batch is on ("" otherwise)
    task_done: int = 0  # how many of its hosts are done with it
    task_total: int = 0
    elapsed: float = 0.0
    interrupted: bool = False


def fmt_elapsed(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def now_text(now: list[tuple[str, int]], limit: int = 3) -> str:
    if not now:
        return "-"
    shown = [f"{task} ({n})" for task, n in now[:limit]]
    if len(now) > limit:
        shown.append(f"+{len(now) - limit} more")
    return " · ".join(shown)


def view(snap: Snapshot, spinner: Spinner | None = None) -> RenderableType:
    """The display: a header row with a bar and the hosts counter, then counts, then current tasks."""
    head = Table.grid(padding=(0, 1))
    columns: list[RenderableType] = []
    if spinner is not None:
        head.add_column(width=1)
        columns.append(spinner)
    for _ in range(4):
        head.add_column(no_wrap=True)
    play = f"PLAY [{snap.play}]" + (f" (play {snap.play_number} of {snap.plays})" if snap.plays > 1 else "")
    columns += [
        Text(play, style="bold", overflow="ellipsis"),
        ProgressBar(total=max(snap.total, 1), completed=snap.done, width=30),
        Text(f"{snap.done}/{snap.total} hosts", style="bold"),
        Text(fmt_elapsed(snap.elapsed), style="dim"),
    ]
    head.add_row(*columns)
    hosts = Text("  hosts:   ", no_wrap=True, overflow="ellipsis")
    hosts.append(f"{snap.hosts_changed} changed", style="yellow" if snap.hosts_changed else "")
    hosts.append(" · ")
    hosts.append(f"{snap.hosts_failed} failed", style="red" if snap.hosts_failed else "")
    hosts.append(" · ")
    hosts.append(f"{snap.hosts_unreachable} unreachable", style="red" if snap.hosts_unreachable else "")
    r = snap.results
    results = Text(f"  results: ok={r.get('ok', 0)} changed={r.get('changed', 0)} failed={r.get('failed', 0)} "
                   f"skipped={r.get('skipped', 0)}", style="dim", no_wrap=True, overflow="ellipsis")
    now = f"{snap.task} ({snap.task_done}/{snap.task_total} hosts done)" if snap.task else now_text(snap.now)
    lines: list[RenderableType] = [head, hosts, results, Text(f"  now:     {now}", no_wrap=True, overflow="ellipsis")]
    if snap.interrupted:
        lines.append(Text("  interrupted (Ctrl-C): steps in flight finish, nothing new starts; Ctrl-C again aborts",
                          style="bold magenta", no_wrap=True, overflow="ellipsis"))
    return Group(*lines)


def view_text(snap: Snapshot, width: int = 120) -> str:
    """The display as plain text (no colors, no cursor control), e.g. for tests and logs."""
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    console.print(view(snap))
    return console.file.getvalue()  # type: ignore[attr-defined]


class ProgressOutput:
    """The output for `--progress bar`: lines above a live display of the fleet (see the module doc)."""

    def __init__(self, stream: TextIO | None = None, verbosity: int = 0, diff: bool = False,
                 targets: list[list[str]] | None = None, console: Console | None = None,
                 refresh_per_second: float = 4.0) -> None:
        self.console = console or Console(file=stream or sys.stdout, highlight=False)
        self.verbosity = verbosity
        self.diff = diff
        self.targets = targets or []
        all_hosts = {h for names in self.targets for h in names}
        self.show_ok = verbosity > 0 or len(all_hosts) <= OK_LINES_MAX_HOSTS
        self.show_skipped = verbosity > 0
        self.refresh_per_second = refresh_per_second
        # Lock order: rich's Live holds its own lock while it asks for the display (snapshot), so
        # `_data` is only ever held for plain bookkeeping, never while calling into rich.
        self._data = threading.Lock()
        self._live_lock = threading.Lock()
        self._runner: Any = None
        self._live: Live | None = None
        self._spinner = Spinner("dots", style="cyan")
        self._started = time.monotonic()
        self._play = ""
        self._play_index = -1
        self._baseline: dict[str, tuple[float, Any]] = {}
        self._last_task: dict[str, str] = {}
        self._header: str | None = None
        self._events: Counter[str] = Counter()
        self._host_flags: dict[str, set[str]] = {}
        self._hidden: Counter[str] = Counter()
        self._interrupted = False
        self._closed = False

    # -- wiring ---------------------------------------------------------------------------
    def attach(self, runner: Any) -> None:
        """Read host states (done, current task, counts) from this PlaybookRunner while it runs."""
        self._runner = runner

    def _start(self) -> None:
        with self._live_lock:
            if self._live is None and not self._closed:
                self._live = Live(get_renderable=self._render, console=self.console, transient=False,
                                  refresh_per_second=self.refresh_per_second, redirect_stdout=True,
                                  redirect_stderr=True)
                self._live.start()

    def close(self) -> None:
        """Stop the live display (its final state stays on screen). Safe to call twice."""
        with self._live_lock:
            self._closed = True
            live, self._live = self._live, None
        if live is not None:
            live.stop()

    def abort(self) -> None:
        """Second Ctrl-C, just before the process exits: give the terminal its cursor back, take no lock."""
        if self._live is not None and self.console.is_terminal:
            try:
                os.write(self.console.file.fileno(), b"\x1b[?25h\n")
            except (OSError, ValueError, io.UnsupportedOperation):
                pass

    # -- events from the executor ------------------------------------------------------------
    def play(self, name: str) -> None:
        states = self._states()
        with self._data:
            self._play = name
            self._play_index += 1
            self._header = None
            self._baseline = {h: (s.stats.seconds, s.current_task) for h, s in states.items()}
        self._start()
        self._print(banner(f"PLAY [{name}]"), "bold")

    def header(self, title: str, handler: bool = False, path: str | None = None) -> None:
        with self._data:
            self._header = title

    def verbose(self, text: str, level: int = 2) -> None:
        if self.verbosity >= level:
            self._print(text, None)

    def warn(self, text: str) -> None:
        self._print(f"[WARNING]: {text}", "magenta")

    def no_hosts_matched(self) -> None:
        self._print("skipping: no hosts matched", "cyan")

    def no_hosts_left(self) -> None:
        self._print(banner("NO MORE HOSTS LEFT"), "bold")

    def ignoring(self, host: str) -> None:
        """Each ignored item's line already says `...ignoring` here."""

    def included(self, what: str, hosts: list[str], label: Any, title: str) -> None:
        """Includes are not shown among the progress lines (they change nothing); they count as ok."""
        with self._data:
            self._events["ok"] += len(hosts)

    def interrupted(self) -> None:
        """First Ctrl-C (called from the SIGINT handler in the main thread)."""
        self._interrupted = True
        self._print(f"[WARNING]: {INTERRUPT_NOTICE}", "magenta")

    def event(self, ev: TaskEvent) -> None:
        self._start()
        shown = ev.status in ("changed", "failed", "unreachable") or (ev.status == "ok" and self.show_ok) \
            or (ev.status == "skipped" and self.show_skipped)
        with self._data:
            self._events[ev.status] += 1
            self._host_flags.setdefault(ev.host, set()).add(ev.status)
            self._last_task[ev.host] = ev.task
            if not shown:
                self._hidden[ev.status] += 1
        if not shown:
            return
        line, color = result_line(ev, self.verbosity, with_task=True)
        text = Text(line, style=color or "")
        if ev.status == "failed" and ev.ignored:
            text.append("\n...ignoring", style="cyan")
        if (self.diff or ev.result.get("_hostprep_show_diff")) and not ev.no_log and ev.result.get("diff"):
            from hostprep.output.diffs import render_diff

            diff = render_diff(ev.result["diff"])
            if diff:
                text.append("\n" + diff.rstrip("\n"))
        self.console.print(text, soft_wrap=True, highlight=False)  # one print: a host's lines stay together

    def recap(self, stats: dict[str, HostStats]) -> None:
        self.close()
        with self._data:
            hidden = [f"{n} {status}" for status, n in sorted(self._hidden.items()) if n]
        if hidden:
            self._print(f"({', '.join(hidden)} results not shown: -v or --progress lines shows them)", "dim")
        self._print("")
        self._print(banner("PLAY RECAP"))
        for text, color in recap_lines(stats):
            self._print(text, color or None)

    # -- the display --------------------------------------------------------------------------
    def _print(self, text: str, style: str | None = None) -> None:
        self.console.print(Text(text, style=style or ""), soft_wrap=True, highlight=False)

    def _states(self) -> dict[str, Any]:
        if self._runner is None:
            return {}
        return dict(self._runner.states)  # a copy: workers add states while we read

    def snapshot(self) -> Snapshot:
        """The display's data now: from the runner's host states, or from the events alone."""
        with self._data:
            index, play, header = self._play_index, self._play, self._header
            baseline = dict(self._baseline)
            events = Counter(self._events)
            flags = {h: set(f) for h, f in self._host_flags.items()}
        states = self._states()
        if 0 <= index < len(self.targets):
            hosts: Iterable[str] = self.targets[index]
        else:
            hosts = list(states) or list(flags)
        hosts = list(hosts)
        snap = Snapshot(play=play, play_number=index + 1, plays=len(self.targets), total=len(hosts),
                        elapsed=time.monotonic() - self._started, interrupted=self._interrupted)
        now: Counter[str] = Counter()
        for h in hosts:
            st = states.get(h)
            if st is None:
                continue
            seconds, task_before = baseline.get(h, (0.0, None))
            # the strategy adds the host's time to HostStats.seconds when its play is over (Strategy.host_done)
            if st.stats.seconds != seconds:
                snap.done += 1
                continue
            task = st.current_task
            if task is not None and task is not task_before:
                now[st.current_title or task.display_name] += 1  # rendered, as the task lines show it
            else:
                now[header or "starting"] += 1
        snap.now = sorted(now.items(), key=lambda kv: (-kv[1], kv[0]))
        if self._runner is not None:
            title, snap.task_done, snap.task_total, handler = self._runner.task_status.read()
            snap.task = f"{'RUNNING HANDLER' if handler else 'TASK'} [{title}]" if title else ""
        if states:
            all_stats = [s.stats for s in states.values()]
            snap.hosts_changed = sum(1 for s in all_stats if s.changed)
            snap.hosts_failed = sum(1 for s in all_stats if s.failed)
            snap.hosts_unreachable = sum(1 for s in all_stats if s.unreachable)
            snap.results = {"ok": sum(s.ok for s in all_stats), "changed": sum(s.changed for s in all_stats),
                            "failed": sum(s.failed for s in all_stats), "skipped": sum(s.skipped for s in all_stats)}
        else:
            snap.hosts_changed = sum(1 for f in flags.values() if "changed" in f)
            snap.hosts_failed = sum(1 for f in flags.values() if "failed" in f)
            snap.hosts_unreachable = sum(1 for f in flags.values() if "unreachable" in f)
            snap.results = {"ok": events["ok"] + events["changed"], "changed": events["changed"],
                            "failed": events["failed"], "skipped": events["skipped"]}
        return snap

    def _render(self) -> RenderableType:
        try:
            return view(self.snapshot(), self._spinner)
        except Exception as exc:  # noqa: BLE001 - a display glitch must never stop the run
            return Text(f"(progress display error: {type(exc).__name__})", style="dim")
