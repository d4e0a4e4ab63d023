"""The run's vault passwords, decryption on demand, and the values vaults revealed.

Loaders call `decrypt_text` for a vaulted file or `!vault` value; every string revealed that way is
remembered so that a result mentioning one is censored like `no_log` output (`mentions_secret`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from hostprep.errors import InputError
from hostprep.vault.cipher import VaultDecryptError, decrypt_envelope
from hostprep.vault.envelope import VaultFormatError, parse
from hostprep.vault.secrets import VaultSecret

_lock = threading.Lock()
_secrets: list[VaultSecret] = []
_revealed: set[str] = set()
MIN_SECRET_LEN = 3  # shorter strings ("no", "1") would censor everything


def configure(secrets: list[VaultSecret]) -> None:
    """Set the passwords of this run (the CLI does, before anything is loaded)."""
    with _lock:
        _secrets[:] = list(secrets)


def secrets() -> list[VaultSecret]:
    return list(_secrets)


def decrypt_text(text: str | bytes, source: str | None = None, line: int | None = None) -> bytes:
    """Plaintext of vaulted text with the first password that opens it (its own label's first)."""
    try:
        env = parse(text)
    except VaultFormatError as exc:
        raise InputError(f"vault: {exc}", file=source, line=line) from None
    if not _secrets:
        raise InputError("vaulted content but no vault password given (use --vault-password-file, --ask-vault-pass "
                         "or --vault-id)", file=source, line=line)
    ordered = [s for s in _secrets if s.label == env.vault_id] + [s for s in _secrets if s.label != env.vault_id]
    for secret in ordered:
        try:
            return decrypt_envelope(env, secret.password)
        except VaultDecryptError:
            continue
    tried = ", ".join(sorted({s.label for s in _secrets}))
    raise InputError(f"no vault password given opens this (vault ids tried: {tried})", file=source, line=line)


def reveal(value: Any) -> Any:
    """Remember every string in `value` as a secret; returns `value`."""
    if isinstance(value, str):
        if len(value) >= MIN_SECRET_LEN:
            with _lock:
                _revealed.add(value)
    elif isinstance(value, Mapping):
        for v in value.values():
            reveal(v)
    elif isinstance(value, list):
        for v in value:
            reveal(v)
    return value


def mentions_secret(value: Any) -> bool:
    """True if any string in `value` holds a value a vault revealed (so it must be censored)."""
    if not _revealed:
        return False
    if isinstance(value, str):
        return any(s in value for s in _revealed)
    if isinstance(value, Mapping):
        return any(mentions_secret(k) or mentions_secret(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(mentions_secret(v) for v in value)
    return False


def scrub_text(text: str) -> str:
    """Replace revealed values in a text (a log line) with asterisks."""
    for s in sorted(_revealed, key=len, reverse=True):
        text = text.replace(s, "********")
    return text
