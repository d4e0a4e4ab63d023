"""Where vault passwords come from, as Ansible takes them.

`--vault-password-file F` is `default@F`, `--ask-vault-pass` is `default@prompt`, `--vault-id
[LABEL@]SOURCE` names one of each; SOURCE is `prompt`, a file (the password is its content, stripped),
or an executable file (its standard output; a `*-client` script is asked with `--vault-id LABEL`).
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from hostprep.errors import InputError
from hostprep.vault.envelope import DEFAULT_ID


@dataclass(frozen=True)
class VaultSecret:
    """One password and the vault id (label) it is for."""

    label: str
    password: bytes
    source: str

    def __repr__(self) -> str:  # never show the password
        return f"VaultSecret(label={self.label!r}, source={self.source!r})"


def split_vault_id(spec: str) -> tuple[str, str]:
    """`label@source` or `source` (label `default`)."""
    if "@" in spec:
        label, source = spec.split("@", 1)
        return label or DEFAULT_ID, source
    return DEFAULT_ID, spec


def _is_client_script(path: Path) -> bool:
    stem = path.name.rsplit(".", 1)[0] if "." in path.name else path.name
    return stem.endswith("-client")


def _from_executable(path: Path, label: str) -> bytes:
    cmd = [str(path)] + (["--vault-id", label] if _is_client_script(path) else [])
    try:
        proc = subprocess.run(cmd, capture_output=True, check=False, timeout=120)
    except OSError as exc:
        raise InputError(f"cannot run vault password script: {exc.strerror}", file=str(path)) from None
    if proc.returncode != 0:
        what = "did not find a secret for vault-id=" + label if proc.returncode == 2 and _is_client_script(path) \
            else f"returned non-zero ({proc.returncode})"
        stderr = proc.stderr.decode(errors="replace").strip()
        raise InputError(f"vault password script {what}" + (f": {stderr}" if stderr else ""), file=str(path))
    return proc.stdout.strip(b"\r\n")


def _from_file(path: Path, label: str) -> bytes:
    if not path.exists():
        raise InputError("vault password file not found", file=str(path))
    if os.access(path, os.X_OK) and path.is_file():
        password = _from_executable(path, label)
    else:
        try:
            password = path.read_bytes().strip()
        except OSError as exc:
            raise InputError(f"cannot read vault password file: {exc.strerror}", file=str(path)) from None
    if not password:
        raise InputError("invalid vault password: the file gives an empty one", file=str(path))
    return password


def _prompt(label: str, confirm: bool = False) -> bytes:
    text = "Vault password" + (f" ({label})" if label != DEFAULT_ID else "") + ": "
    if sys.stdin.isatty():
        password = getpass.getpass(text)
        if confirm and getpass.getpass("Confirm " + text[0].lower() + text[1:]) != password:
            raise InputError("the vault passwords given do not match")
    else:  # no terminal (CI, pipes): one line of standard input
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InputError("invalid vault password: an empty one was given")
    return password.encode()


def load_secret(spec: str, *, confirm: bool = False) -> VaultSecret:
    """The secret a `--vault-id` value names."""
    label, source = split_vault_id(spec)
    if source == "prompt" or source == "prompt_ask_vault_pass":
        return VaultSecret(label, _prompt(label, confirm), "prompt")
    path = Path(os.path.expanduser(source))
    return VaultSecret(label, _from_file(path, label), str(path))


def vault_id_specs(vault_ids: list[str] | tuple[str, ...] = (), password_files: list[str] | tuple[str, ...] = (),
                   ask: bool = False) -> list[str]:
    """Every `label@source` of a run, in Ansible's order: --vault-id, then password files, then the prompt."""
    specs = list(vault_ids)
    specs += [f"{DEFAULT_ID}@{f}" for f in password_files]
    if ask:
        specs.append(f"{DEFAULT_ID}@prompt")
    return specs
