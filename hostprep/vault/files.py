"""Controller files that may be vaulted (copy/template sources): read decrypted, as Ansible does."""

from __future__ import annotations

from pathlib import Path

from hostprep.vault import keyring
from hostprep.vault.envelope import is_vaulted


def read_bytes(path: Path) -> bytes:
    """The file's bytes, decrypted when it is a vault file (its text then counts as a secret)."""
    data = path.read_bytes()
    if not data.startswith(b"$ANSIBLE_VAULT"):
        return data
    plain = keyring.decrypt_text(data, str(path))
    try:
        keyring.reveal(plain.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    return plain


def read_text(path: Path) -> str:
    """The file's UTF-8 text, decrypted when it is a vault file."""
    return read_bytes(path).decode("utf-8")


__all__ = ["is_vaulted", "read_bytes", "read_text"]
