"""SSH settings of one host: Ansible-named variables and ssh args in, one `SSHSettings` out.

What the host's variables (or, below them, the command line) say explicitly wins; anything
left unset (None) is decided later by ssh_config (`~/.ssh/config` and `/etc/ssh/ssh_config`, or
only the `-F FILE`), as OpenSSH merges `-o` options over its config files. The policy words of
host-key checking (`strict`/`accept-new`/`off`, StrictHostKeyChecking values, booleans) are
read here too, so every source of a policy means the same thing.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hostprep.errors import InputError
from hostprep.values import to_bool

HOST_KEY_POLICIES = ("strict", "accept-new", "off")
DEFAULT_CONNECT_TIMEOUT = 10.0
_STRICT_MAP = {"no": "off", "off": "off", "false": "off", "accept-new": "accept-new", "yes": "strict",
               "ask": "strict", "true": "strict", "strict": "strict"}
_FLAG_MAP = {"-J": "proxyjump", "-i": "identityfile", "-p": "port", "-F": "configfile", "-l": "user"}


def parse_ssh_args(text: str | None) -> dict[str, str]:
    """The `-o Key=Value` (and `-J`, `-i`, `-p`, `-F`, `-l`) options in ansible_ssh_common_args/extra_args.

    Keys are lower-cased like ssh_config keywords; `-J x` becomes `proxyjump`. As with ssh, the
    first value given for a key wins.
    """
    opts: dict[str, str] = {}
    if not text:
        return opts
    words = shlex.split(str(text))
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("-o"):
            value = word[2:] or (words[i + 1] if i + 1 < len(words) else "")
            if not word[2:]:
                i += 1
            if "=" in value:
                key, val = value.split("=", 1)
            else:
                key, _, val = value.partition(" ")
                if not val and i + 1 < len(words):
                    i += 1
                    val = words[i]
            opts.setdefault(key.strip().lower(), val.strip())
        elif word[:2] in _FLAG_MAP:
            value = word[2:] or (words[i + 1] if i + 1 < len(words) else "")
            if not word[2:]:
                i += 1
            opts.setdefault(_FLAG_MAP[word[:2]], value)
        i += 1
    return opts


def policy_from_word(word: Any, key: str) -> str:
    """`strict`/`accept-new`/`off` from a policy name, a StrictHostKeyChecking value or a boolean."""
    if isinstance(word, bool):
        return "strict" if word else "off"
    policy = _STRICT_MAP.get(str(word).strip().lower())
    if policy is None:
        raise InputError(f"host key policy {word!r} is not one of {', '.join(HOST_KEY_POLICIES)}", key=key)
    return policy


@dataclass
class SSHSettings:
    """Everything needed to open one host's connection, from Ansible-named variables.

    None means "not said": ssh_config (or the built-in default) decides.
    """

    name: str
    host: str
    port: int | None = None
    user: str | None = None
    key_files: list[str] = field(default_factory=list)
    password: str | None = field(default=None, repr=False)
    known_hosts: Path | None = None  # the first UserKnownHostsFile given (where accept-new records)
    known_hosts_files: list[Path] | None = None  # every UserKnownHostsFile given
    host_key_policy: str = "strict"
    # where the policy came from: "host" (variables/ssh args), "cli" (--host-key-policy) or
    # "default" (then ssh_config's StrictHostKeyChecking, if any, decides)
    host_key_policy_source: str = "default"
    proxy_jump: str | None = None
    proxy_command: str | None = None
    ssh_config: str | None = None
    connect_timeout: float | None = None
    connect_retries: int = 2
    keepalive: int = 15  # like OpenSSH's ServerAliveInterval: seconds of silence before asking
    keepalive_count: int = 3  # like ServerAliveCountMax: unanswered intervals before giving up

    @classmethod
    def from_hostvars(cls, name: str, hv: Mapping[str, Any]) -> SSHSettings:
        """Settings from a host's variables (already layered with the command line's, see options.py)."""
        opts = parse_ssh_args(hv.get("ansible_ssh_common_args"))
        for key, value in parse_ssh_args(hv.get("ansible_ssh_extra_args")).items():
            opts.setdefault(key, value)
        port = hv.get("ansible_port", hv.get("ansible_ssh_port", opts.get("port")))
        keys = hv.get("ansible_ssh_private_key_file", hv.get("ansible_private_key_file")) or opts.get(
            "identityfile"
        )
        known = opts.get("userknownhostsfile")
        policy = _host_policy(hv, opts)
        cli_policy = hv.get("hostprep_cli_host_key_policy")
        if cli_policy is not None:
            cli_policy = policy_from_word(cli_policy, "--host-key-policy")
        timeout = hv.get("ansible_ssh_timeout", hv.get("ansible_timeout", opts.get("connecttimeout")))
        ssh_config = opts.get("configfile") or hv.get("hostprep_ssh_config") or hv.get("hostprep_cli_ssh_config")
        password = hv.get("ansible_password", hv.get("ansible_ssh_pass"))
        user = hv.get("ansible_user", hv.get("ansible_ssh_user", opts.get("user")))
        files = [Path(os.path.expanduser(k)) for k in known.split()] if known else None
        port_num = _number(port, int, f"port {port!r} of host {name}", "ansible_port")
        return cls(
            name=name,
            host=str(hv.get("ansible_host", hv.get("ansible_ssh_host", name))),
            port=port_num,
            user=None if user in (None, "") else str(user),
            key_files=[os.path.expanduser(str(k)) for k in ([keys] if isinstance(keys, str) else keys or [])],
            password=None if password is None else str(password),
            known_hosts=files[0] if files else None,
            known_hosts_files=files,
            host_key_policy=policy or cli_policy or "strict",
            host_key_policy_source="host" if policy else "cli" if cli_policy else "default",
            proxy_jump=opts.get("proxyjump") or None,
            proxy_command=opts.get("proxycommand") or None,
            ssh_config=os.path.expanduser(str(ssh_config)) if ssh_config else None,
            connect_timeout=_number(timeout, float, f"timeout {timeout!r} of host {name}", "ansible_timeout"),
            keepalive=_int_opt(opts, "serveraliveinterval", 15, name),
            keepalive_count=_int_opt(opts, "serveralivecountmax", 3, name),
        )


def _host_policy(hv: Mapping[str, Any], opts: Mapping[str, str]) -> str | None:
    """The host-key policy the host itself sets (variables, then -o StrictHostKeyChecking), or None."""
    if hv.get("hostprep_host_key_policy") not in (None, ""):
        return policy_from_word(hv["hostprep_host_key_policy"], "hostprep_host_key_policy")
    for var in ("ansible_host_key_checking", "ansible_ssh_host_key_checking"):
        if hv.get(var) not in (None, ""):
            return "strict" if to_bool(hv[var], var) else "off"
    if opts.get("stricthostkeychecking"):
        return policy_from_word(opts["stricthostkeychecking"], "StrictHostKeyChecking")
    return None


def _number(value: Any, kind: type, what: str, key: str) -> Any:
    if value in (None, ""):
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} is not a number", key=key) from None


def _int_opt(opts: Mapping[str, str], key: str, default: int, host: str) -> int:
    value = opts.get(key)
    if value in (None, ""):
        return default
    try:
        return int(str(value))
    except ValueError:
        raise InputError(f"{key} {value!r} of host {host} is not a number", key="ansible_ssh_common_args") from None
