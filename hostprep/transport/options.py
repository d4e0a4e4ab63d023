"""Connection settings from the command line, layered under and over a host's variables.

Ansible's rule, which hostprep follows: command-line connection options (`-u`, `--private-key`,
`-k`, `-K`, `-b`, `--become-user`, `-T`) are the *lowest* precedence of all. Any connection
variable of the host (`ansible_user`, `ansible_become_password`, ... from inventory, group_vars,
host_vars) overrides them, and extra vars (`-e ansible_user=x`) override everything. The
hostprep-only flags follow the same rule: `--host-key-policy` yields to a host's
`hostprep_host_key_policy`, `ansible_host_key_checking` or `-o StrictHostKeyChecking` in its
ssh args, and `-F FILE` yields to a `-F` in the host's ssh args; both in turn win over what
the ssh_config file says (as `ssh -o ...` wins over ssh_config).

`hostprep apply` puts the options of the run in `RunOptions.connection`; the executor passes
them with each host's variables to `open_transport`/`become_from_vars` (connect.py), which
apply this layering. There is no process-wide slot: two runs in one process (tests, a
library user) never see each other's options.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# the variables that say how to reach a host / become, with their Ansible aliases
CONNECTION_VARS = (
    "ansible_connection", "ansible_host", "ansible_ssh_host", "ansible_port", "ansible_ssh_port",
    "ansible_user", "ansible_ssh_user", "ansible_password", "ansible_ssh_pass",
    "ansible_ssh_private_key_file", "ansible_private_key_file", "ansible_ssh_common_args",
    "ansible_ssh_extra_args", "ansible_timeout", "ansible_ssh_timeout", "ansible_host_key_checking",
    "ansible_ssh_host_key_checking", "hostprep_host_key_policy", "hostprep_ssh_config",
    "ansible_become", "ansible_become_user", "ansible_become_password", "ansible_become_pass",
    "ansible_become_method", "ansible_become_flags", "ansible_become_exe",
    *(f"ansible_{method}_{option}" for method in ("sudo", "su") for option in ("user", "pass", "password", "flags",
                                                                              "exe")),
    "ansible_su_prompt_l10n",
)


@dataclass
class ConnectionOptions:
    """What the command line said about connecting and becoming (None = not given)."""

    user: str | None = None
    port: int | None = None  # ansible.cfg remote_port, a play's `port`
    private_key: str | None = None
    password: str | None = field(default=None, repr=False)
    become: bool | None = None
    become_user: str | None = None
    become_password: str | None = field(default=None, repr=False)
    become_method: str | None = None
    host_key_policy: str | None = None
    ssh_config: str | None = None
    timeout: float | None = None
    connection: str | None = None  # -c/--connection: ssh or local
    ssh_common_args: str | None = None  # --ssh-common-args / ansible.cfg ssh_args + ssh_common_args
    ssh_extra_args: str | None = None  # --ssh-extra-args / ansible.cfg ssh_extra_args
    # connection variables given as extra vars (-e): they beat every host variable
    forced: dict[str, Any] = field(default_factory=dict, repr=False)

    def defaults(self) -> dict[str, Any]:
        """The command-line values as the variables they stand for (lowest precedence)."""
        out: dict[str, Any] = {}
        if self.user is not None:
            out["ansible_user"] = self.user
        if self.port is not None:
            out["ansible_port"] = self.port
        if self.private_key is not None:
            out["ansible_ssh_private_key_file"] = self.private_key
        if self.password is not None:
            out["ansible_password"] = self.password
        if self.become is not None:
            out["ansible_become"] = self.become
        if self.become_user is not None:
            out["ansible_become_user"] = self.become_user
        if self.become_password is not None:
            out["ansible_become_password"] = self.become_password
        if self.become_method is not None:
            out["ansible_become_method"] = self.become_method
        if self.timeout is not None:
            out["ansible_timeout"] = self.timeout
        if self.host_key_policy is not None:
            out["hostprep_cli_host_key_policy"] = self.host_key_policy
        if self.ssh_config is not None:
            out["hostprep_cli_ssh_config"] = self.ssh_config
        if self.connection is not None:
            out["ansible_connection"] = self.connection
        if self.ssh_common_args is not None:
            out["ansible_ssh_common_args"] = self.ssh_common_args
        if self.ssh_extra_args is not None:
            out["ansible_ssh_extra_args"] = self.ssh_extra_args
        return out


# aliases: a host that sets either name of a pair has set that value
_ALIASES = {
    "ansible_user": ("ansible_user", "ansible_ssh_user"),
    "ansible_port": ("ansible_port", "ansible_ssh_port"),
    "ansible_ssh_private_key_file": ("ansible_ssh_private_key_file", "ansible_private_key_file"),
    "ansible_password": ("ansible_password", "ansible_ssh_pass"),
    "ansible_become_password": ("ansible_become_password", "ansible_become_pass"),
    "ansible_timeout": ("ansible_timeout", "ansible_ssh_timeout"),
}

_lock = threading.Lock()


def layered(hostvars: Mapping[str, Any], options: ConnectionOptions | None = None) -> dict[str, Any]:
    """`hostvars` with the command-line values under them and forced (-e) values over them."""
    opts = options
    if opts is None:
        return dict(hostvars)
    out: dict[str, Any] = {}
    for key, value in opts.defaults().items():
        if not any(alias in hostvars for alias in _ALIASES.get(key, (key,))):
            out[key] = value
    out.update(hostvars)
    for key, value in opts.forced.items():
        key = next((k for k, names in _ALIASES.items() if key in names), key)
        for alias in _ALIASES.get(key, (key,)):
            out.pop(alias, None)
        out[key] = value
    return out


_warned_off = False


def warn_host_key_checking_off(where: str) -> None:
    """Print, once per run, that host keys are not being checked."""
    global _warned_off
    with _lock:
        if _warned_off:
            return
        _warned_off = True
    print(f"[WARNING]: host key checking is OFF ({where}): any unknown host key is accepted and none is "
          "recorded (a changed key is still refused); use this only for throwaway hosts", file=sys.stderr,
          flush=True)


def reset_warnings() -> None:
    global _warned_off
    with _lock:
        _warned_off = False
