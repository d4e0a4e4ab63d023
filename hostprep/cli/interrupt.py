"""Ctrl-C during `hostprep apply`: stop cleanly the first time, abort at once the second time.

First SIGINT: the runner's cancel flag is set. The executor checks it before each host, task,
handler, loop item, `until` retry and plan step, so nothing new starts on any host; the command or
upload in flight finishes (uploads are a temp file in the destination's directory, then a rename,
so a destination is never half-written). The run then ends as usual: connections are closed, the
PLAY RECAP is printed with the hosts that did not finish marked `interrupted`, those hosts go into
the retry file, and `hostprep apply` exits with 130 (128 + SIGINT, the shell's convention;
`ansible-playbook` exits 99 on a user interrupt, which hostprep does not copy because its other exit
codes are its own too, and 130 is what scripts and CI runners expect of an interrupted command).

Second SIGINT: the process exits with 130 immediately, abandoning what is in flight. Destinations
are still never half-written (the rename has not happened); an upload cut at that instant may
leave its hidden temp file (`.hostprep-XXXXXXXX`) beside the destination, and no recap or retry
file is written.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

EXIT_INTERRUPTED = 130
ABORT_MESSAGE = "\nAborted (second Ctrl-C): steps in flight were abandoned; run again to converge.\n"


class InterruptHandler:
    """A SIGINT handler for the length of a run (a context manager; only in the main thread)."""

    def __init__(self, cancelled: threading.Event, output: Any) -> None:
        self.cancelled = cancelled
        self.output = output
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> InterruptHandler:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if not self.cancelled.is_set():
            self.cancelled.set()
            notice = getattr(self.output, "interrupted", None)
            if notice is not None:
                try:
                    notice()
                except Exception:  # noqa: BLE001 - the flag is set; telling the user is best effort
                    pass
            return
        abort = getattr(self.output, "abort", None)
        try:
            if abort is not None:
                abort()
            os.write(sys.stderr.fileno(), ABORT_MESSAGE.encode())
        except Exception:  # noqa: BLE001 - nothing may stand between a second Ctrl-C and the exit
            pass
        os._exit(EXIT_INTERRUPTED)
