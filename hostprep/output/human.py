"""Ansible-like output for people: PLAY/TASK headers, per-host lines, PLAY RECAP."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

import click

from hostprep.output.events import CENSORED, INTERRUPT_NOTICE, HostStats, TaskEvent, censor

COLORS = {"ok": "green", "changed": "yellow", "failed": "red", "fatal": "red", "unreachable": "red",
          "skipping": "cyan", "skipped": "cyan", "rescued": "magenta", "ignored": "blue"}


def result_line(ev: TaskEvent, verbosity: int = 0, with_task: bool = False) -> tuple[str, str | None]:
    """The line `ansible-playbook` prints for one result, and its color.

    `with_task` names the task in the line (`changed: [web1] TASK [x]`), for output where lines
    of different tasks interleave (the progress display prints no TASK headers).
    Results are censored (no_log, secret-looking keys) before they are shown.
    """
    result = ev.result if not ev.no_log else {"censored": CENSORED}
    label = ""
    if ev.is_item:
        shown = result.get("_ansible_item_label", ev.item) if not ev.no_log else "(censored)"
        label = f" => (item={shown})"
    word = {"ok": "ok", "changed": "changed", "skipped": "skipping", "failed": "failed",
            "unreachable": "fatal"}[ev.status]
    if ev.status == "failed" and not ev.is_item:
        word = "fatal"
    delegated = ev.result.get("_hostprep_delegated") if ev.status != "skipped" else None
    line = f"{word}: [{ev.host}{f' -> {delegated}' if delegated else ''}]"
    if with_task:
        line += f" {'HANDLER' if ev.handler else 'TASK'} [{ev.task}]"
    line += label
    if ev.status == "unreachable":
        line += f": UNREACHABLE! => {json.dumps({'msg': result.get('msg'), 'unreachable': True})}"
    elif ev.status == "failed":
        if ev.is_item:  # `failed: [h] (item=x) => {...}`: no arrow before the item, as Ansible prints it
            line = line.replace(" => (item=", " (item=", 1) + " => " + _compact(result)
        else:
            line += ": FAILED! => " + _compact(result)
    elif ev.status == "skipped":
        # Ansible shows a skipped result only when verbose; an item's line keeps its trailing space
        line += (" " if ev.is_item else "") + (" => " + _compact(result) if verbosity else "")
    elif result.get("_hostprep_debug"):
        line += " => " + json.dumps(censor(_debug_shown(result)), indent=4, default=str)
    elif result.get("_hostprep_show"):  # Ansible's _ansible_verbose_always (assert): the whole result
        line += " => " + json.dumps(censor(_shown(result)), indent=4, default=str, sort_keys=True)
    elif verbosity:
        line += " => " + _compact(result)
    return line, COLORS.get(ev.status)


def banner(text: str) -> str:
    """A header line as Ansible prints it when output is not a terminal: stars to 80 columns (at least 3)."""
    return f"{text} " + "*" * max(3, 80 - len(text) - 1)


def recap_lines(stats: dict[str, HostStats]) -> list[tuple[str, str]]:
    """PLAY RECAP rows (text, color). A host that Ctrl-C stopped before it finished ends in `interrupted`."""
    out = []
    for host, s in stats.items():
        color = "red" if (s.failed or s.unreachable) else ("yellow" if s.changed else "green")
        text = (f"{host:<26} : ok={s.ok:<4} changed={s.changed:<4} unreachable={s.unreachable:<4} "
                f"failed={s.failed:<4} skipped={s.skipped:<4} rescued={s.rescued:<4} ignored={s.ignored:<4}")
        if s.interrupted:
            text += " interrupted"
            color = "magenta" if color == "green" or color == "yellow" else color
        out.append((text, color))
    interrupted = [h for h, s in stats.items() if s.interrupted]
    if interrupted:
        out.append(("", ""))
        out.append((f"INTERRUPTED (Ctrl-C): {len(interrupted)} host(s) did not finish: "
                    + ", ".join(interrupted[:20]) + (", ..." if len(interrupted) > 20 else ""), "magenta"))
    return out


class HumanOutput:
    """Prints events as `ansible-playbook` would (colored on a terminal)."""

    def __init__(self, stream: TextIO | None = None, verbosity: int = 0, diff: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.color = self.stream.isatty()
        self.verbosity = verbosity
        self.diff = diff
        # re-entrant: the Ctrl-C handler runs in the main thread and may print while it holds the lock
        self._lock = threading.RLock()
        self._last_header: str | None = None

    def _echo(self, text: str, color: str | None = None) -> None:
        if color and self.color:
            text = click.style(text, fg=color)
        self.stream.write(text + "\n")
        self.stream.flush()

    def play(self, name: str) -> None:
        with self._lock:
            self._echo("\n" + banner(f"PLAY [{name}]"))
            self._last_header = None

    def header(self, title: str, handler: bool = False, path: str | None = None) -> None:
        """A task (or handler) starts: its header, once (the linear strategy calls this before any result).

        Every task gets its own header, as in Ansible, even when the one before it has the same name.
        With -vv the header is followed by where the task is written (`task path: FILE:LINE`), as Ansible's."""
        with self._lock:
            self._last_header = None
            if handler:
                self._handler_header(title)
            else:
                self._header(title)
            if path and self.verbosity >= 2:
                self._echo(f"task path: {path}")

    def verbose(self, text: str, level: int = 2) -> None:
        """A line Ansible prints only from this verbosity on (-vv: PLAYBOOK banner, META lines)."""
        if self.verbosity >= level:
            with self._lock:
                self._echo(text)

    def _header(self, title: str) -> None:
        if title != self._last_header:
            self._echo("\n" + banner(f"TASK [{title}]"))
            self._last_header = title

    def _handler_header(self, task: str) -> None:
        title = "RUNNING HANDLER [" + task
        if self._last_header != title:
            self._echo("\n" + banner(f"{title}]"))
            self._last_header = title

    def included(self, what: str, hosts: list[str], label: Any, title: str) -> None:
        """`included: FILE for h1, h2` (a role's name for include_role), ` => (item=x)` for a loop's entry."""
        with self._lock:
            self._header(title)
            line = f"included: {what} for {', '.join(hosts)}"
            if label is not None:
                line += f" => (item={label})"
            self._echo(line, "cyan")

    def ignoring(self, host: str) -> None:
        """A loop whose failed items were all ignored: `...ignoring` once, after them."""
        with self._lock:
            self._echo("...ignoring", "cyan")

    def no_hosts_matched(self) -> None:
        """A play whose pattern (and --limit) matched no host: Ansible's line under its PLAY header."""
        with self._lock:
            self._echo("skipping: no hosts matched", "cyan")

    def no_hosts_left(self) -> None:
        """A play stopped by max_fail_percentage: every host of the batch is out."""
        with self._lock:
            self._echo("\n" + banner("NO MORE HOSTS LEFT"))
            self._last_header = None

    def warn(self, text: str) -> None:
        """Warnings go to standard error, as ansible-playbook's do: standard output stays the run's record."""
        with self._lock:
            self.stream.flush()
            click.echo(click.style(f"[WARNING]: {text}", fg="magenta") if sys.stderr.isatty()
                       else f"[WARNING]: {text}", err=True)

    def interrupted(self) -> None:
        """Called from the SIGINT handler (main thread) on the first Ctrl-C."""
        click.echo(click.style(f"\n[WARNING]: {INTERRUPT_NOTICE}", fg="magenta") if sys.stderr.isatty()
                   else f"\n[WARNING]: {INTERRUPT_NOTICE}", err=True)

    def abort(self) -> None:
        """Called on the second Ctrl-C, just before the process exits: nothing to restore."""

    def close(self) -> None:
        pass

    def event(self, ev: TaskEvent) -> None:
        with self._lock:
            if ev.handler:
                self._handler_header(ev.task)
            else:
                self._header(ev.task)
            # a changed result's diff comes before its line, as Ansible's callback prints it
            if (self.diff or ev.result.get("_hostprep_show_diff")) and not ev.no_log and ev.result.get("diff") \
                    and ev.result.get("changed"):
                self._print_diff(ev.result["diff"])
            line, color = result_line(ev, self.verbosity)
            self._echo(line, color)
            if ev.status == "failed" and ev.ignored and not ev.is_item:  # a loop's: ignoring() after its items
                self._echo("...ignoring", "cyan")

    def _print_diff(self, diff: Any) -> None:
        from hostprep.output.diffs import render_diff

        text = render_diff(diff)
        if text:  # ends in a blank line (Ansible's display adds a newline only to text without one)
            self.stream.write(text if text.endswith("\n") else text + "\n")

    def recap(self, stats: dict[str, HostStats]) -> None:
        with self._lock:
            self._echo("\n" + banner("PLAY RECAP"))
            for text, color in recap_lines(stats):
                self._echo(text, color or None)
            self._echo("")


# keys Ansible leaves out of what it prints of a result (TaskResult.clean_copy and the debug callback)
_NOT_SHOWN = ("failed", "skipped")
_DEBUG_KEYS = ("msg", "exception", "warnings", "deprecations")
_HIDDEN_IN_DEBUG = ("changed", "failed", "skipped", "invocation", "skip_reason")


def _shown(result: dict) -> dict:
    return {k: v for k, v in result.items() if not k.startswith("_") and k not in _NOT_SHOWN}


def _debug_shown(result: dict) -> dict:
    """What Ansible's default callback prints of a debug result: `msg` alone, or the variable (with the item)."""
    if "msg" in result:
        return {k: v for k, v in result.items() if k in _DEBUG_KEYS}
    return {k: v for k, v in result.items() if not k.startswith("_") and k not in _HIDDEN_IN_DEBUG}


def _compact(result: dict) -> str:
    return json.dumps(_shown(censor(result)), default=str, sort_keys=True)
