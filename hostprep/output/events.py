"""What the executor tells the outside world: one event per task result, plus play and recap events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SECRET_WORDS = ("password", "passwd", "secret", "token", "private_key", "become_pass")
INTERRUPT_NOTICE = ("interrupted (Ctrl-C): the commands and uploads in flight finish, no new task starts; "
                    "press Ctrl-C again to abort at once")
CENSORED = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"


@dataclass
class HostStats:
    ok: int = 0
    changed: int = 0
    unreachable: int = 0
    failed: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0
    round_trips: int = 0
    seconds: float = 0.0
    interrupted: bool = False  # Ctrl-C stopped the run before this host finished (it is in the retry file)


@dataclass
class TaskEvent:
    """A task's result on one host (or one loop item)."""

    host: str
    task: str
    status: str  # ok, changed, failed, skipped, unreachable
    result: dict[str, Any] = field(default_factory=dict)
    item: Any = None
    is_item: bool = False
    ignored: bool = False
    no_log: bool = False
    task_path: str = ""
    handler: bool = False

    def __post_init__(self) -> None:
        # a result that mentions a value a vault revealed is censored as no_log output is
        if not self.no_log:
            from hostprep.vault.keyring import mentions_secret

            self.no_log = mentions_secret(self.result) or mentions_secret(self.item)


def censor(value: Any) -> Any:
    """Hide values of keys that look like secrets anywhere in a result."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(k, str) and any(w in k.lower() for w in SECRET_WORDS) and v not in (None, ""):
                out[k] = "********"
            else:
                out[k] = censor(v)
        return out
    if isinstance(value, list):
        return [censor(v) for v in value]
    return value


def scrub(text: str, secrets: list[str]) -> str:
    """Replace every known secret value in a text (e.g. a command's output) with asterisks."""
    for s in secrets:
        if s and len(s) >= 3:
            text = text.replace(s, "********")
    return text
