"""Open the right transport for a host from its (Ansible-named) connection variables.

The command line's connection options (`ConnectionOptions`, see options.py) come in as an
argument and are layered under the host's variables here, so callers pass a host's own
variables plus the run's options, never a merged dict of their own making.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hostprep.errors import InputError
from hostprep.transport.base import BecomeSpec, Transport
from hostprep.transport.become import METHODS, method_error, method_for
from hostprep.transport.options import ConnectionOptions, layered
from hostprep.transport.settings import SSHSettings
from hostprep.values import to_bool

_OPTION_VARS = {"user": ("ansible_become_user",), "password": ("ansible_become_password", "ansible_become_pass"),
                "flags": ("ansible_become_flags",), "exe": ("ansible_become_exe",)}
_METHOD_SUFFIXES = {"user": ("user",), "password": ("pass", "password"), "flags": ("flags",), "exe": ("exe",)}
# every variable become_from_vars reads (for callers that gather them from any variable source)
BECOME_VARS = ("ansible_become", "ansible_become_method",
               *(name for names in _OPTION_VARS.values() for name in names),
               *(f"ansible_{m}_{s}" for m in METHODS for suffixes in _METHOD_SUFFIXES.values() for s in suffixes),
               "ansible_su_prompt_l10n")


def become_from_vars(hostvars: Mapping[str, Any], *, enabled: bool | None = None, user: str | None = None,
                     cli: ConnectionOptions | None = None) -> BecomeSpec:
    """A BecomeSpec from ansible_become* variables, overridden by play/task keywords.

    `-b`, `--become-user`, `--become-method` and `-K` (in `cli`) count as the lowest-precedence
    values of those variables. A become_method hostprep cannot do is refused here (InputError).
    """
    hv = layered(hostvars, cli)
    on = enabled if enabled is not None else to_bool(hv.get("ansible_become", False), "ansible_become")
    method = str(hv.get("ansible_become_method") or "sudo")

    def var(option: str) -> Any:
        # as Ansible's become plugins read them: ansible_become_X, then the method's own ansible_<method>_X
        # (ansible_sudo_pass, ansible_su_user, ...), the last one set winning
        names = _OPTION_VARS[option] + tuple(f"ansible_{method}_{suffix}" for suffix in _METHOD_SUFFIXES[option])
        found = [hv[n] for n in names if hv.get(n) not in (None, "")]
        return found[-1] if found else None

    password = var("password")
    if password not in (None, ""):
        from hostprep.vault import keyring

        keyring.reveal(str(password))  # a result that shows the become password is censored like no_log
    words = (hv.get("ansible_su_prompt_l10n") if method == "su" else None) or ()
    spec = BecomeSpec(
        enabled=on,
        user=str(user or var("user") or "root"),
        password=None if password is None else str(password),
        method=method,
        flags=str(var("flags") or ""),
        exe=str(var("exe") or ""),
        prompts=tuple(str(w) for w in ([words] if isinstance(words, str) else words)),
    )
    if spec.enabled:
        method_for(spec)  # an unsupported method fails before any host is asked anything
    return spec


def open_transport(name: str, hostvars: Mapping[str, Any], cli: ConnectionOptions | None = None) -> Transport:
    """Connect to `name` per ansible_connection (ssh by default, or local); nothing is sent yet."""
    hv = layered(hostvars, cli)
    conn = str(hv.get("ansible_connection", "ssh"))
    if conn == "local":
        from hostprep.transport.local import LocalTransport

        return LocalTransport(name)
    if conn in ("ssh", "paramiko", "smart"):
        from hostprep.transport.ssh import SSHTransport  # paramiko and fabric: only when a host needs them

        return SSHTransport.from_hostvars(name, hv)
    raise InputError(f"connection type {conn!r} is not supported (ssh, local)", key="ansible_connection")


def check_host(name: str, hostvars: Mapping[str, Any], cli: ConnectionOptions | None = None) -> None:
    """Refuse a host's bad connection variables (become_method, port, timeout, host-key policy) up front.

    Called for every selected host before the first connection, so that bad input never shows
    up as a failure half-way through a run.
    """
    hv = layered(hostvars, cli)
    why = method_error(hv.get("ansible_become_method"))
    if why:
        raise InputError(f"host {name}: {why}", key="ansible_become_method")
    if str(hv.get("ansible_connection", "ssh")) in ("ssh", "paramiko", "smart"):
        SSHSettings.from_hostvars(name, hv)
