"""What the executor tells the outside world: one event per task result, plus play and recap events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# module parameters Ansible marks no_log (user's password, the login_password of db modules, ...):
# a key with one of these names holds a secret; a key that merely contains the word (getent_passwd,
# secret_file_path) does not, as in Ansible, which censors no_log results and no_log parameters only
SECRET_KEYS = frozenset({"password", "passwd", "login_password", "become_pass", "become_password",
                         "ansible_password", "ansible_ssh_pass", "ansible_become_pass", "ansible_become_password",
                         "private_key_passphrase", "passphrase", "update_password_secret", "vault_password",
                         "api_token", "auth_token", "client_secret", "secret_key", "token"})
# and, to be safe with role variables shown by debug/set_fact (db_password, vault_pass), names that END
# in a password-like word; `passwd` only as the whole name, since getent_passwd is the passwd database
SECRET_SUFFIXES = ("_password", "_pass", "_passphrase", "_token", "_secret")


def is_secret_key(name: str) -> bool:
    low = name.lower()
    return low in SECRET_KEYS or low.endswith(SECRET_SUFFIXES)
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
    # where the host's time went, task by task (executor/profile.py): --json's summary carries it
    profile: dict[str, Any] = field(default_factory=dict)


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
    """Hide the values of secret parameters (SECRET_KEYS) anywhere in a result."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(k, str) and is_secret_key(k) and v not in (None, ""):
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
