"""ansible.cfg found and read as Ansible does, with the ANSIBLE_* environment variables over it.

Search order (first found wins, as Ansible's): $ANSIBLE_CONFIG (a file, or a directory holding
ansible.cfg), ./ansible.cfg (skipped when the current directory is world-writable, as Ansible does),
~/.ansible.cfg, /etc/ansible/ansible.cfg. Only the settings a provisioning run uses are taken; every
other setting is ignored, as Ansible ignores unknown ones, and listed by `ignored()` for a -v note.
Relative paths in the file are relative to the file's directory.
"""

from __future__ import annotations

import configparser
import os
import stat
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from hostprep.errors import InputError
from hostprep.values import to_bool


@dataclass(frozen=True)
class Setting:
    section: str
    key: str
    env: str
    kind: str  # str, int, bool, path, pathlist, list
    default: Any = None


SETTINGS: dict[str, Setting] = {s.key: s for s in (
    Setting("defaults", "inventory", "ANSIBLE_INVENTORY", "pathlist", ["/etc/ansible/hosts"]),
    Setting("defaults", "roles_path", "ANSIBLE_ROLES_PATH", "pathlist", []),
    Setting("defaults", "remote_user", "ANSIBLE_REMOTE_USER", "str"),
    Setting("defaults", "remote_port", "ANSIBLE_REMOTE_PORT", "int"),
    Setting("defaults", "private_key_file", "ANSIBLE_PRIVATE_KEY_FILE", "path"),
    Setting("defaults", "forks", "ANSIBLE_FORKS", "int", 5),
    Setting("defaults", "timeout", "ANSIBLE_TIMEOUT", "int", 10),
    Setting("defaults", "host_key_checking", "ANSIBLE_HOST_KEY_CHECKING", "bool", True),
    Setting("defaults", "ask_pass", "ANSIBLE_ASK_PASS", "bool", False),
    Setting("defaults", "vault_password_file", "ANSIBLE_VAULT_PASSWORD_FILE", "path"),
    Setting("defaults", "vault_identity_list", "ANSIBLE_VAULT_IDENTITY_LIST", "list", []),
    Setting("defaults", "ask_vault_pass", "ANSIBLE_ASK_VAULT_PASS", "bool", False),
    Setting("defaults", "vault_encrypt_identity", "ANSIBLE_VAULT_ENCRYPT_IDENTITY", "str"),
    Setting("defaults", "retry_files_enabled", "ANSIBLE_RETRY_FILES_ENABLED", "bool", False),
    Setting("defaults", "retry_files_save_path", "ANSIBLE_RETRY_FILES_SAVE_PATH", "path"),
    Setting("defaults", "gathering", "ANSIBLE_GATHERING", "str", "implicit"),
    Setting("defaults", "fact_caching", "ANSIBLE_CACHE_PLUGIN", "str", "memory"),
    Setting("defaults", "transport", "ANSIBLE_TRANSPORT", "str", "ssh"),
    Setting("ssh_connection", "ssh_args", "ANSIBLE_SSH_ARGS", "str"),
    Setting("ssh_connection", "ssh_common_args", "ANSIBLE_SSH_COMMON_ARGS", "str"),
    Setting("ssh_connection", "ssh_extra_args", "ANSIBLE_SSH_EXTRA_ARGS", "str"),
    Setting("privilege_escalation", "become", "ANSIBLE_BECOME", "bool", False),
    Setting("privilege_escalation", "become_user", "ANSIBLE_BECOME_USER", "str", "root"),
    Setting("privilege_escalation", "become_method", "ANSIBLE_BECOME_METHOD", "str", "sudo"),
    Setting("privilege_escalation", "become_ask_pass", "ANSIBLE_BECOME_ASK_PASS", "bool", False),
)}
# the values of `gathering` and `fact_caching` hostprep acts on
GATHERING = ("implicit", "explicit", "smart")
FACT_CACHING = ("memory", "jsonfile")


def find_config(cwd: Path | None = None) -> Path | None:
    """The ansible.cfg Ansible would read, or None."""
    env = os.environ.get("ANSIBLE_CONFIG")
    if env:
        path = Path(os.path.expanduser(env))
        if path.is_dir():
            path = path / "ansible.cfg"
        if path.is_file():
            return path
    cwd = cwd or Path.cwd()
    local = cwd / "ansible.cfg"
    if local.is_file():
        try:
            world_writable = bool(cwd.stat().st_mode & stat.S_IWOTH)
        except OSError:
            world_writable = True
        if not world_writable:
            return local
    for path in (Path.home() / ".ansible.cfg", Path("/etc/ansible/ansible.cfg")):
        if path.is_file():
            return path
    return None


class AnsibleConfig:
    """The settings of one ansible.cfg (or none) with the environment over them."""

    def __init__(self, path: Path | None, environ: dict[str, str] | None = None) -> None:
        self.path = path
        self.environ = dict(os.environ if environ is None else environ)
        self.parser = configparser.ConfigParser(inline_comment_prefixes=(";",), interpolation=None)
        if path is not None:
            try:
                self.parser.read(path, encoding="utf-8")
            except (configparser.Error, UnicodeDecodeError) as exc:
                raise InputError(f"cannot parse ansible.cfg: {exc}", file=str(path)) from None

    def _raw(self, setting: Setting) -> tuple[str | None, str]:
        if setting.env in self.environ:
            return self.environ[setting.env], f"${setting.env}"
        if self.parser.has_option(setting.section, setting.key):
            return self.parser.get(setting.section, setting.key), f"{self.path} [{setting.section}] {setting.key}"
        return None, "default"

    def origin(self, name: str) -> str:
        """Where a setting's value comes from (for -v and error messages)."""
        return self._raw(SETTINGS[name])[1]

    def is_set(self, name: str) -> bool:
        return self._raw(SETTINGS[name])[0] is not None

    def get(self, name: str) -> Any:
        """The typed value of a setting (its default when neither the environment nor the file sets it)."""
        setting = SETTINGS[name]
        raw, origin = self._raw(setting)
        if raw is None:
            return setting.default
        base = self.path.parent if self.path is not None and not origin.startswith("$") else Path.cwd()
        try:
            return _convert(raw.strip(), setting.kind, base)
        except ValueError:
            raise InputError(f"{setting.key}: {raw!r} is not a valid {setting.kind}", file=origin) from None

    def ignored(self) -> list[str]:
        """The file's settings hostprep does not use (Ansible ignores unknown ones too)."""
        known = {(s.section, s.key) for s in SETTINGS.values()}
        out = []
        for section in self.parser.sections():
            for key in self.parser.options(section):
                if (section, key) not in known and key not in self.parser.defaults():
                    out.append(f"[{section}] {key}")
        return out


def _path(value: str, base: Path) -> str:
    expanded = os.path.expandvars(os.path.expanduser(value))
    return str(base / expanded) if not os.path.isabs(expanded) else expanded


def _convert(raw: str, kind: str, base: Path) -> Any:
    if kind == "str":
        return raw
    if kind == "int":
        return int(raw)
    if kind == "bool":
        return to_bool(raw, "ansible.cfg")
    if kind == "path":
        return _path(raw, base) if raw else None
    if kind == "pathlist":
        sep = ":" if ":" in raw and "," not in raw else ","
        return [_path(p.strip(), base) for p in raw.split(sep) if p.strip()]
    if kind == "list":
        return [p.strip() for p in raw.split(",") if p.strip()]
    raise ValueError(kind)


@cache
def load() -> AnsibleConfig:
    """This process's configuration (found once)."""
    return AnsibleConfig(find_config())
