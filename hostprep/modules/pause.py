"""pause: wait a number of seconds/minutes, or for Enter at a prompt (runs on the controller)."""

from __future__ import annotations

import datetime
import sys
import threading
import time
from typing import Any

from hostprep.modules.base import Arg, Module, TaskContext

_PROMPT_LOCK = threading.Lock()  # hosts run in threads: one prompt at a time


class PauseModule(Module):
    name = "pause"
    runs_on = "controller"
    doc = ("Pause for seconds or minutes, or until Enter is pressed at the prompt. Without a terminal on stdin a "
           "prompt does not wait (as in Ansible, with a warning); a timed pause always waits.")
    examples = "- pause:\n    seconds: 10\n- pause:\n    prompt: Check the dashboard, then press Enter\n"
    args = {
        "seconds": Arg("int", doc="How long to pause."),
        "minutes": Arg("int", doc="How long to pause, in minutes."),
        "prompt": Arg("str", doc="Text shown while waiting for Enter (no seconds/minutes)."),
        "echo": Arg("bool", default=True, doc="Show what is typed at the prompt."),
    }
    mutually_exclusive = (("minutes", "seconds"),)

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: Any = None) -> dict[str, Any]:
        unit, seconds = "minutes", None
        if args.get("minutes") is not None:
            seconds = args["minutes"] * 60
        elif args.get("seconds") is not None:
            seconds, unit = args["seconds"], "seconds"
        result: dict[str, Any] = {"changed": False, "rc": 0, "stderr": "", "echo": args["echo"]}
        start = time.time()
        result["start"] = str(datetime.datetime.now())
        user_input = ""
        if seconds is not None:
            cancelled = ctx.cancelled
            seconds = max(1, seconds)
            if cancelled is not None:
                cancelled.wait(seconds)
            else:
                time.sleep(seconds)
        elif sys.stdin is not None and sys.stdin.isatty():
            with _PROMPT_LOCK:
                text = f"[{ctx.host}] {args.get('prompt') or 'Press enter to continue, Ctrl+C to interrupt'}:"
                if args["echo"]:
                    user_input = input(text)
                else:
                    import getpass

                    user_input = getpass.getpass(text)
        else:
            result["warnings"] = ["Not waiting for response to prompt as stdin is not interactive"]
        duration = time.time() - start
        result["stop"] = str(datetime.datetime.now())
        result["delta"] = int(duration)
        shown = round(duration / 60.0, 2) if unit == "minutes" else round(duration, 2)
        result["stdout"] = f"Paused for {shown} {unit}"
        result["user_input"] = user_input
        return result
