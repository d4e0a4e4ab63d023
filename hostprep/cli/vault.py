"""`hostprep vault`: encrypt, decrypt, view, encrypt_string and rekey, interchangeable with ansible-vault."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hostprep.cli.vaultopts import configured_specs, vault_options
from hostprep.errors import InputError
from hostprep.vault import keyring
from hostprep.vault.cipher import encrypt
from hostprep.vault.envelope import is_vaulted
from hostprep.vault.secrets import VaultSecret, load_secret


def _secrets(kwargs: dict, *, confirm: bool = False) -> list[VaultSecret]:
    specs = configured_specs(kwargs.pop("vault_ids", ()), kwargs.pop("vault_password_files", ()),
                             kwargs.pop("ask_vault_pass", False))
    if not specs:
        raise InputError("no vault password given (use --vault-password-file, --ask-vault-pass or --vault-id)")
    secrets = [load_secret(spec, confirm=confirm) for spec in specs]
    keyring.configure(secrets)
    return secrets


def _encrypt_secret(secrets: list[VaultSecret], label: str | None) -> VaultSecret:
    """The password to encrypt with: --encrypt-vault-id's, else the only one given."""
    if label:
        for s in secrets:
            if s.label == label:
                return s
        raise InputError(f"--encrypt-vault-id {label!r}: no vault password with that id was given")
    if len({s.label for s in secrets}) > 1:
        raise InputError(f"the vault ids {', '.join(s.label for s in secrets)} are available to encrypt: "
                         "choose one with --encrypt-vault-id")
    return secrets[0]


def _write(target: str | None, data: bytes, default: Path | None) -> None:
    if target == "-" or (target is None and default is None):
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    path = Path(target) if target else default
    assert path is not None
    tmp = path.with_name(f".{path.name}.hostprep-tmp")
    tmp.write_bytes(data)
    if path.exists():
        tmp.chmod(path.stat().st_mode & 0o7777)
    tmp.replace(path)  # atomic: never a half-written file


def _read(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=name) from None


@click.group("vault")
def command() -> None:
    """Vault files and values, as ansible-vault writes and reads them."""


@command.command("encrypt")
@click.argument("files", nargs=-1)
@click.option("--output", "output", help="Write here instead of in place ('-' for stdout).")
@click.option("--encrypt-vault-id", "encrypt_vault_id", help="The vault id whose password encrypts.")
@vault_options
def encrypt_cmd(files: tuple[str, ...], output: str | None, encrypt_vault_id: str | None, **kwargs) -> None:  # noqa: ANN003
    """Encrypt FILES in place (stdin to stdout without FILES)."""
    secret = _encrypt_secret(_secrets(kwargs, confirm=True), encrypt_vault_id)
    for name in files or ("-",):
        data = _read(name)
        if is_vaulted(data):
            raise InputError("input is already encrypted", file=name)
        text = encrypt(data, secret.password, secret.label).encode()
        _write(output, text, None if name == "-" else Path(name))
    click.echo("Encryption successful", err=True)


@command.command("decrypt")
@click.argument("files", nargs=-1)
@click.option("--output", "output", help="Write here instead of in place ('-' for stdout).")
@vault_options
def decrypt_cmd(files: tuple[str, ...], output: str | None, **kwargs) -> None:  # noqa: ANN003
    """Decrypt FILES in place (stdin to stdout without FILES)."""
    _secrets(kwargs)
    for name in files or ("-",):
        data = _read(name)
        if not is_vaulted(data):
            raise InputError("input is not vault encrypted data", file=name)
        _write(output, keyring.decrypt_text(data, name), None if name == "-" else Path(name))
    click.echo("Decryption successful", err=True)


@command.command("view")
@click.argument("files", nargs=-1, required=True)
@vault_options
def view_cmd(files: tuple[str, ...], **kwargs) -> None:  # noqa: ANN003
    """Show the plaintext of vaulted FILES."""
    _secrets(kwargs)
    for name in files:
        sys.stdout.buffer.write(keyring.decrypt_text(_read(name), name))
    sys.stdout.flush()


def _indented(text: str) -> str:
    return "\n".join("          " + line for line in text.rstrip("\n").splitlines())


@command.command("encrypt_string")
@click.argument("values", nargs=-1)
@click.option("-n", "--name", "names", multiple=True, help="Variable name of each value (in order).")
@click.option("--stdin-name", help="Read the value from stdin and name it so.")
@click.option("-p", "--prompt", is_flag=True, help="Ask for the value.")
@click.option("--encrypt-vault-id", "encrypt_vault_id", help="The vault id whose password encrypts.")
@vault_options
def encrypt_string_cmd(values: tuple[str, ...], names: tuple[str, ...], stdin_name: str | None, prompt: bool,
                       encrypt_vault_id: str | None, **kwargs) -> None:  # noqa: ANN003
    """Print `name: !vault |` blocks for VALUES, to paste into YAML."""
    secret = _encrypt_secret(_secrets(kwargs, confirm=True), encrypt_vault_id)
    pairs: list[tuple[str | None, str]] = []
    if stdin_name is not None or (not values and not prompt):
        pairs.append((stdin_name, sys.stdin.read()))
    if prompt:
        pairs.append((names[0] if names else None, click.prompt("String to encrypt", hide_input=True)))
    for index, value in enumerate(values):
        pairs.append((names[index] if index < len(names) else None, value))
    blocks = []
    for name, value in pairs:
        if value == "":
            raise InputError("the string to encrypt is empty")
        block = "!vault |\n" + _indented(encrypt(value.encode(), secret.password, secret.label))
        blocks.append(f"{name}: {block}" if name else block)
    click.echo("\n\n".join(blocks))
    click.echo("Encryption successful", err=True)


@command.command("rekey")
@click.argument("files", nargs=-1, required=True)
@click.option("--new-vault-id", help="The new password's vault id ([LABEL@]SOURCE).")
@click.option("--new-vault-password-file", help="File (or executable) holding the new password.")
@click.option("--encrypt-vault-id", "encrypt_vault_id", help="Label for the new password.")
@vault_options
def rekey_cmd(files: tuple[str, ...], new_vault_id: str | None, new_vault_password_file: str | None,
              encrypt_vault_id: str | None, **kwargs) -> None:  # noqa: ANN003
    """Re-encrypt FILES with a new password."""
    _secrets(kwargs)
    if new_vault_password_file:
        label = (new_vault_id.split("@", 1)[0] if new_vault_id and "@" in new_vault_id else None) or \
            encrypt_vault_id or "default"
        new = load_secret(f"{label}@{new_vault_password_file}")
    elif new_vault_id:
        new = load_secret(new_vault_id, confirm=True)
    else:
        new = load_secret("default@prompt", confirm=True)
    for name in files:
        plain = keyring.decrypt_text(_read(name), name)
        _write(None, encrypt(plain, new.password, new.label).encode(), Path(name))
    click.echo("Rekey successful", err=True)
