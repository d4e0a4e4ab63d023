"""The vault options of every command that loads files (--vault-id, --vault-password-file, --ask-vault-pass).

With none given, ansible.cfg's vault_identity_list / vault_password_file / ask_vault_pass (or their
ANSIBLE_* variables) are used, as Ansible does.
"""

from __future__ import annotations

from typing import Any

import click

from hostprep.vault import keyring
from hostprep.vault.secrets import VaultSecret, load_secret, vault_id_specs


def vault_options(func):  # noqa: ANN001, ANN201 - click decorator stack
    decorators = [
        click.option("--vault-id", "vault_ids", multiple=True, metavar="[LABEL@]SOURCE",
                     help="A vault password: LABEL@prompt, LABEL@FILE or an executable FILE (repeatable)."),
        click.option("--vault-password-file", "--vault-pass-file", "vault_password_files", multiple=True,
                     metavar="FILE", help="File (or executable) holding the vault password (repeatable)."),
        click.option("-J", "--ask-vault-pass", "--ask-vault-password", "ask_vault_pass", is_flag=True,
                     help="Ask for the vault password."),
    ]
    for d in reversed(decorators):
        func = d(func)
    return func


def configured_specs(vault_ids: tuple[str, ...] = (), password_files: tuple[str, ...] = (),
                     ask: bool = False) -> list[str]:
    """The run's vault-id specs: the command line's, else the configuration's."""
    from hostprep.config.ansible_cfg import load

    cfg = load()
    ids = list(vault_ids) or list(cfg.get("vault_identity_list") or [])
    files = list(password_files)
    if not files and cfg.get("vault_password_file"):
        files = [cfg.get("vault_password_file")]
    return vault_id_specs(ids, files, ask or bool(cfg.get("ask_vault_pass")))


def setup_vault(kwargs: dict[str, Any]) -> list[VaultSecret]:
    """Pop the vault options from a command's kwargs, load the passwords, give them to the keyring."""
    specs = configured_specs(tuple(kwargs.pop("vault_ids", ()) or ()),
                             tuple(kwargs.pop("vault_password_files", ()) or ()),
                             bool(kwargs.pop("ask_vault_pass", False)))
    secrets = [load_secret(spec) for spec in specs]
    keyring.configure(secrets)
    return secrets
