"""Open the right transport for a host from its (Ansible-named) connection variables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hostprep.modules.base import to_bool
from hostprep.transport.base import BecomeSpec, Transport


def become_from_vars(hostvars: Mapping[str, Any], *, enabled: bool | None = None,
                     user: str | None = None) -> BecomeSpec:
    """A BecomeSpec from ansible_become* variables, overridden by play/task keywords."""
    on = enabled if enabled is not None else to_bool(hostvars.get("ansible_become", False), "ansible_become")
    return BecomeSpec(
        enabled=on,
        user=str(user or hostvars.get("ansible_become_user") or "root"),
        password=hostvars.get("ansible_become_password", hostvars.get("ansible_become_pass")),
        method=str(hostvars.get("ansible_become_method", "sudo")),
        flags=str(hostvars.get("ansible_become_flags", "")),
    )


def open_transport(name: str, hostvars: Mapping[str, Any]) -> Transport:
    """Connect to `name` per ansible_connection (ssh by default, or local)."""
    conn = str(hostvars.get("ansible_connection", "ssh"))
    if conn == "local":
        from hostprep.transport.local import LocalTransport

        return LocalTransport(name)
    if conn in ("ssh", "paramiko", "smart"):
        from hostprep.transport.ssh import SSHTransport

        return SSHTransport.from_hostvars(name, hostvars)
    from hostprep.errors import InputError

    raise InputError(f"connection type {conn!r} is not supported (ssh, local)", key="ansible_connection")
