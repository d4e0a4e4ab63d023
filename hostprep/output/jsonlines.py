"""--json: one JSON object per line on stdout, one per task result, then a summary."""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import asdict
from typing import Any, TextIO

from hostprep.output.events import CENSORED, INTERRUPT_NOTICE, HostStats, TaskEvent, censor


class JsonOutput:
    def __init__(self, stream: TextIO | None = None, **_: Any) -> None:
        self.stream = stream or sys.stdout
        self._lock = threading.RLock()  # re-entrant: the Ctrl-C handler (main thread) emits too
        self._interrupted = False

    def _emit(self, obj: dict[str, Any]) -> None:
        with self._lock:
            self.stream.write(json.dumps(obj, default=str, sort_keys=True) + "\n")
            self.stream.flush()

    def play(self, name: str) -> None:
        self._emit({"event": "play", "name": name})

    def header(self, title: str, handler: bool = False, path: str | None = None) -> None:
        pass

    def verbose(self, text: str, level: int = 2) -> None:
        """Verbose notes are for people; the JSON lines carry the results."""

    def warn(self, text: str) -> None:
        self._emit({"event": "warning", "msg": text})

    def no_hosts_matched(self) -> None:
        self._emit({"event": "no_hosts_matched"})

    def no_hosts_left(self) -> None:
        self._emit({"event": "no_hosts_left"})

    def ignoring(self, host: str) -> None:
        """The items' own events say `ignored`; nothing more to print."""

    def included(self, what: str, hosts: list[str], label: Any, title: str) -> None:
        obj = {"event": "included", "task": title, "included": what, "hosts": hosts}
        if label is not None:
            obj["item"] = label
        self._emit(obj)

    def interrupted(self) -> None:
        """First Ctrl-C (from the SIGINT handler): one `interrupted` event; the summary says it too."""
        self._interrupted = True
        self._emit({"event": "interrupted", "msg": INTERRUPT_NOTICE})

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass

    def event(self, ev: TaskEvent) -> None:
        result = {"censored": CENSORED} if ev.no_log else censor(
            {k: v for k, v in ev.result.items() if not k.startswith("_")})
        obj = {"event": "task_result", "host": ev.host, "task": ev.task, "status": ev.status, "result": result,
               "handler": ev.handler, "ignored": ev.ignored}
        if ev.is_item:
            obj["item"] = "(censored)" if ev.no_log else ev.item
        self._emit(obj)

    def recap(self, stats: dict[str, HostStats]) -> None:
        self._emit({"event": "summary", "hosts": {h: asdict(s) for h, s in stats.items()},
                    "interrupted": self._interrupted or any(s.interrupted for s in stats.values())})
