"""Ansible-like output for people: PLAY/TASK headers, per-host lines, PLAY RECAP."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

import click

from hostprep.output.events import CENSORED, HostStats, TaskEvent, censor

COLORS = {"ok": "green", "changed": "yellow", "failed": "red", "fatal": "red", "unreachable": "red",
          "skipping": "cyan", "skipped": "cyan", "rescued": "magenta", "ignored": "blue"}


class HumanOutput:
    """Prints events as `ansible-playbook` would (colored on a terminal)."""

    def __init__(self, stream: TextIO | None = None, verbosity: int = 0, diff: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.color = self.stream.isatty()
        self.verbosity = verbosity
        self.diff = diff
        self._lock = threading.Lock()
        self._last_header: str | None = None

    def _echo(self, text: str, color: str | None = None) -> None:
        if color and self.color:
            text = click.style(text, fg=color)
        self.stream.write(text + "\n")
        self.stream.flush()

    def play(self, name: str) -> None:
        with self._lock:
            self._echo(f"\nPLAY [{name}] " + "*" * max(3, 70 - len(name)))
            self._last_header = None

    def header(self, title: str) -> None:
        with self._lock:
            self._header(title)

    def _header(self, title: str) -> None:
        if title != self._last_header:
            self._echo(f"\nTASK [{title}] " + "*" * max(3, 70 - len(title)))
            self._last_header = title

    def warn(self, text: str) -> None:
        with self._lock:
            self._echo(f"[WARNING]: {text}", "magenta")

    def event(self, ev: TaskEvent) -> None:
        with self._lock:
            title = ("RUNNING HANDLER [" if ev.handler else "") + ev.task
            if ev.handler:
                if self._last_header != title:
                    self._echo(f"\n{title}] " + "*" * max(3, 70 - len(title)))
                    self._last_header = title
            else:
                self._header(ev.task)
            result = ev.result if not ev.no_log else {"censored": CENSORED}
            label = ""
            if ev.is_item:
                shown = result.get("_ansible_item_label", ev.item) if not ev.no_log else "(censored)"
                label = f" => (item={shown})"
            word = {"ok": "ok", "changed": "changed", "skipped": "skipping", "failed": "failed",
                    "unreachable": "fatal"}[ev.status]
            if ev.status == "failed" and not ev.is_item:
                word = "fatal"
            line = f"{word}: [{ev.host}]{label}"
            if ev.status == "unreachable":
                line += f": UNREACHABLE! => {json.dumps({'msg': result.get('msg'), 'unreachable': True})}"
            elif ev.status == "failed":
                line += (": FAILED! => " if not ev.is_item else " => ") + _compact(result)
            elif ev.task.endswith("debug") or "msg" in result and result.get("_hostprep_debug"):
                shown = {k: v for k, v in result.items() if not k.startswith("_") and k not in ("changed",)}
                line += " => " + json.dumps(censor(shown), indent=4, default=str)
            elif self.verbosity:
                line += " => " + _compact(result)
            self._echo(line, COLORS.get(ev.status))
            if ev.status == "failed" and ev.ignored:
                self._echo("...ignoring", "cyan")
            if self.diff and not ev.no_log and result.get("diff"):
                self._print_diff(result["diff"])

    def _print_diff(self, diff: Any) -> None:
        from hostprep.output.diffs import render_diff

        text = render_diff(diff)
        if text:
            self.stream.write(text if text.endswith("\n") else text + "\n")

    def recap(self, stats: dict[str, HostStats]) -> None:
        with self._lock:
            self._echo("\nPLAY RECAP " + "*" * 70)
            for host, s in stats.items():
                color = "red" if (s.failed or s.unreachable) else ("yellow" if s.changed else "green")
                text = (f"{host:<26}: ok={s.ok:<4} changed={s.changed:<4} unreachable={s.unreachable:<4} "
                        f"failed={s.failed:<4} skipped={s.skipped:<4} rescued={s.rescued:<4} ignored={s.ignored:<4}")
                self._echo(text, color)


def _compact(result: dict) -> str:
    shown = {k: v for k, v in censor(result).items() if not k.startswith("_")}
    return json.dumps(shown, default=str, sort_keys=True)
