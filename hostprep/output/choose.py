"""Which output `hostprep apply` prints (JSON lines, Ansible-like lines or the live display), and for whom.

Kept apart from progress.py so that a run whose output is not a live display (JSON, a pipe, a log
file, one host) never imports rich.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

MODES = ("auto", "bar", "lines")


def choose_mode(progress: str, *, as_json: bool, isatty: bool, hosts: int) -> str:
    """What to print: "json", "bar" (live display) or "lines", for `--progress` auto|bar|lines."""
    if as_json:
        return "json"
    if progress not in MODES:
        raise ValueError(f"--progress must be one of {', '.join(MODES)}")
    if progress != "auto":
        return progress
    return "bar" if isatty and hosts > 1 else "lines"


def play_targets(playbook: Any, inventory: Any, options: Any) -> list[list[str]]:
    """The hosts of each play, selected as the executor selects them (the play's pattern, then --limit)."""
    from hostprep.templating import Templar

    out: list[list[str]] = []
    for play in playbook.plays:
        pattern = play.hosts
        if isinstance(pattern, list):
            pattern = ",".join(map(str, pattern))
        try:
            pattern = str(Templar(options.extra_vars).render(str(pattern)))
            names = [h.name for h in inventory.select(pattern)]
            if options.limit:
                allowed = {h.name for h in inventory.select(options.limit)}
                names = [n for n in names if n in allowed]
        except Exception:  # noqa: BLE001 - the run itself reports a bad pattern; the display only counts
            names = []
        out.append(names)
    return out


def make_output(progress: str, *, as_json: bool, verbosity: int, diff: bool, targets: list[list[str]],
                stream: TextIO | None = None) -> Any:
    """The output object for `hostprep apply`: JsonOutput, ProgressOutput or HumanOutput."""
    from hostprep.output.human import HumanOutput
    from hostprep.output.jsonlines import JsonOutput

    stream = stream or sys.stdout
    hosts = len({h for names in targets for h in names})
    # a "dumb" terminal cannot redraw in place: auto gives it plain lines
    isatty = stream.isatty() and os.environ.get("TERM", "") != "dumb"
    mode = choose_mode(progress, as_json=as_json, isatty=isatty, hosts=hosts)
    if mode == "json":
        return JsonOutput(stream)
    if mode == "bar":
        from hostprep.output.progress import ProgressOutput  # rich: only for the live display

        return ProgressOutput(stream, verbosity=verbosity, diff=diff, targets=targets)
    return HumanOutput(stream, verbosity=verbosity, diff=diff)
