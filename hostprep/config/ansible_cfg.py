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
    Setting("defaults", "strategy", "ANSIBLE_STRATEGY", "str", "linear"),
    Setting("defaults", "fact_caching", "ANSIBLE_CACHE_PLUGIN", "str", "memory"),
    Setting("defaults", "fact_caching_connection", "ANSIBLE_CACHE_PLUGIN_CONNECTION", "path"),
    Setting("defaults", "fact_caching_timeout", "ANSIBLE_CACHE_PLUGIN_TIMEOUT", "int", 86400),
    Setting("defaults", "fact_caching_prefix", "ANSIBLE_CACHE_PLUGIN_PREFIX", "str", ""),
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


# -- what a run takes from the configuration ------------------------------------------------
def default_inventory(cfg: AnsibleConfig | None = None) -> list[str]:
    """Ansible's default inventory: [defaults] inventory / $ANSIBLE_INVENTORY, else /etc/ansible/hosts."""
    cfg = cfg or load()
    sources = [s for s in cfg.get("inventory") or [] if "," in s or Path(s).exists()]
    if not sources:
        where = cfg.origin("inventory")
        why = "/etc/ansible/hosts does not exist" if where == "default" else f"{where} names none that exists"
        raise InputError(f"no inventory: give -i INVENTORY, or set inventory in ansible.cfg or $ANSIBLE_INVENTORY "
                         f"({why})")
    return sources


def check_supported(cfg: AnsibleConfig | None = None) -> None:
    """Settings hostprep takes but cannot honour in every value are refused, never ignored."""
    cfg = cfg or load()
    gathering = str(cfg.get("gathering")).lower()
    caching = str(cfg.get("fact_caching")).lower()
    if gathering not in GATHERING:
        raise InputError(f"gathering = {gathering} is not supported by hostprep ({', '.join(GATHERING)} are)",
                         file=cfg.origin("gathering"))
    if caching not in FACT_CACHING:
        raise InputError(f"fact_caching = {caching} is not supported by hostprep ({', '.join(FACT_CACHING)} are)",
                         file=cfg.origin("fact_caching"))
    transport = str(cfg.get("transport")).lower()
    if transport not in ("ssh", "smart", "paramiko", "local"):
        raise InputError(f"transport = {transport} is not supported by hostprep (ssh and local are)",
                         file=cfg.origin("transport"))


def fill_connection(opts: Any, ask: Any = None, cfg: AnsibleConfig | None = None) -> Any:
    """Connection options the command line left unset, from the configuration (still under host variables)."""
    cfg = cfg or load()
    pairs = (("user", "remote_user"), ("port", "remote_port"), ("private_key", "private_key_file"),
             ("become_user", "become_user"),
             ("become_method", "become_method"), ("timeout", "timeout"))
    for attr, name in pairs:
        if getattr(opts, attr, None) is None and cfg.is_set(name):
            setattr(opts, attr, cfg.get(name))
    if opts.become is None and cfg.is_set("become") and cfg.get("become"):
        opts.become = True
    if opts.host_key_policy is None and cfg.is_set("host_key_checking") and not cfg.get("host_key_checking"):
        opts.host_key_policy = "off"
    common = " ".join(v for v in (cfg.get("ssh_args"), cfg.get("ssh_common_args")) if v)
    if hasattr(opts, "ssh_common_args") and opts.ssh_common_args is None and common:
        opts.ssh_common_args = common
    if hasattr(opts, "ssh_extra_args") and opts.ssh_extra_args is None and cfg.get("ssh_extra_args"):
        opts.ssh_extra_args = cfg.get("ssh_extra_args")
    if ask is not None:
        if opts.password is None and cfg.get("ask_pass"):
            opts.password = ask("SSH password: ")
        if opts.become_password is None and cfg.get("become_ask_pass"):
            opts.become_password = ask("BECOME password: ")
    return opts


def retry_path(playbook: Path, explicit: Path | None, cfg: AnsibleConfig | None = None) -> Path | None:
    """Where the retry file goes: --retry-file, else beside the playbook or in retry_files_save_path, as
    Ansible writes it; None when ansible.cfg turns retry files off."""
    if explicit is not None:
        return explicit
    cfg = cfg or load()
    if cfg.is_set("retry_files_enabled") and not cfg.get("retry_files_enabled"):
        return None
    save = cfg.get("retry_files_save_path")
    base = Path(save) if save else playbook.resolve().parent
    return base / f"{playbook.stem}.retry"


def notes(cfg: AnsibleConfig | None = None) -> list[str]:
    """What -v tells about the configuration: the file used and the settings it ignores."""
    cfg = cfg or load()
    out = [f"Using {cfg.path} as config file" if cfg.path else "No config file found; using defaults"]
    ignored = cfg.ignored()
    if ignored:
        out.append(f"ansible.cfg settings hostprep does not use (ignored, as Ansible ignores unknown ones): "
                   f"{', '.join(ignored)}")
    return out
