"""Open the right transport for a host from its (Ansible-named) connection variables.

Command-line connection options (see `options.py`) are layered under the host's variables
here, so the executor only ever passes a host's own variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hostprep.modules.base import to_bool
from hostprep.transport.base import BecomeSpec, Transport
from hostprep.transport.options import layered


def become_from_vars(hostvars: Mapping[str, Any], *, enabled: bool | None = None,
                     user: str | None = None) -> BecomeSpec:
    """A BecomeSpec from ansible_become* variables, overridden by play/task keywords.

    `-b`, `--become-user` and `-K` count as the lowest-precedence values of those variables.
    """
    hv = layered(hostvars)
    on = enabled if enabled is not None else to_bool(hv.get("ansible_become", False), "ansible_become")
    password = hv.get("ansible_become_password", hv.get("ansible_become_pass"))
    return BecomeSpec(
        enabled=on,
        user=str(user or hv.get("ansible_become_user") or "root"),
        password=None if password is None else str(password),
        method=str(hv.get("ansible_become_method", "sudo")),
        flags=str(hv.get("ansible_become_flags", "")),
    )


def open_transport(name: str, hostvars: Mapping[str, Any]) -> Transport:
    """Connect to `name` per ansible_connection (ssh by default, or local)."""
    hv = layered(hostvars)
    conn = str(hv.get("ansible_connection", "ssh"))
    if conn == "local":
        from hostprep.transport.local import LocalTransport

        return LocalTransport(name)
    if conn in ("ssh", "paramiko", "smart"):
        from hostprep.transport.ssh import SSHTransport

        return SSHTransport.from_hostvars(name, hv)
    from hostprep.errors import InputError

    raise InputError(f"connection type {conn!r} is not supported (ssh, local)", key="ansible_connection")
