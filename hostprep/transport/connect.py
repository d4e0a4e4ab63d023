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
from hostprep.transport.become import method_error, method_for
from hostprep.transport.options import ConnectionOptions, layered
from hostprep.transport.settings import SSHSettings
from hostprep.values import to_bool


def become_from_vars(hostvars: Mapping[str, Any], *, enabled: bool | None = None, user: str | None = None,
                     cli: ConnectionOptions | None = None) -> BecomeSpec:
    """A BecomeSpec from ansible_become* variables, overridden by play/task keywords.

    `-b`, `--become-user`, `--become-method` and `-K` (in `cli`) count as the lowest-precedence
    values of those variables. A become_method hostprep cannot do is refused here (InputError).
    """
    hv = layered(hostvars, cli)
    on = enabled if enabled is not None else to_bool(hv.get("ansible_become", False), "ansible_become")
    password = hv.get("ansible_become_password", hv.get("ansible_become_pass"))
    spec = BecomeSpec(
        enabled=on,
        user=str(user or hv.get("ansible_become_user") or "root"),
        password=None if password is None else str(password),
        method=str(hv.get("ansible_become_method") or "sudo"),
        flags=str(hv.get("ansible_become_flags") or ""),
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
