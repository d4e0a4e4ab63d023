"""One SSH connection of a host's chain (the target or a ProxyJump host): paramiko's client and ssh_config.

What hostprep used of Fabric's `Connection` (host, user and port as ssh_config resolves them, IdentityFile
added to the keys, the ProxyJump/ProxyCommand gateway opened first, connect, close), without Fabric: its
Connection is an invoke Context, and importing it imports all of invoke (task runner, parser, unittest.mock
with asyncio), about a fifth of a run's start-up CPU, and each Connection built an invoke Config (deep
merges) and parsed the ssh_config files again. Here the files are parsed once per run (again only if one
changed) and shared by every host; a lookup does not change the parsed config.
"""

from __future__ import annotations

import getpass
import io
import os
import threading
from typing import Any

from hostprep.transport.settings import DEFAULT_CONNECT_TIMEOUT
from hostprep.transport.sshlib import paramiko

USER_SSH_CONFIG = "~/.ssh/config"
SYSTEM_SSH_CONFIG = "/etc/ssh/ssh_config"

_parsed: dict[tuple[str, ...], tuple[tuple, Any]] = {}  # files -> (their versions, the parsed config)
_parsed_lock = threading.Lock()


def _version(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def load_ssh_config(path: str | None = None) -> paramiko.SSHConfig:
    """`path` alone when given (as `ssh -F`), else the user's ~/.ssh/config then /etc/ssh/ssh_config.

    A file that does not exist is skipped (the caller checks an explicit -F file first). Parsed once, and
    again when a file changed.
    """
    files = (os.path.expanduser(path),) if path else (os.path.expanduser(USER_SSH_CONFIG), SYSTEM_SSH_CONFIG)
    versions = tuple(_version(f) for f in files)
    with _parsed_lock:
        seen = _parsed.get(files)
        if seen is not None and seen[0] == versions:
            return seen[1]
        config = paramiko.SSHConfig()
        for f in files:
            if os.path.isfile(f):
                with open(f) as handle:
                    config.parse(handle)
        _parsed[files] = (versions, config)
        return config


def local_user() -> str | None:
    try:
        return getpass.getuser()
    except KeyError:
        return None


def split_shorthand(host: str) -> tuple[str | None, str, int | None]:
    """`user@host:port` -> (user, host, port); a host with more than one ':' (IPv6) has no port part."""
    user, _, hostport = host.rpartition("@")
    if hostport.count(":") > 1:
        return user or None, hostport, None
    name, _, port = hostport.partition(":") if ":" in hostport else (hostport, "", "")
    return user or None, name, int(port) if port else None


class Hop:
    """A host as ssh_config describes it, its paramiko client, and the gateway it is reached through.

    `gateway`: another Hop (ProxyJump), a ProxyCommand line, or False/None (direct).
    `connect_kwargs` go to SSHClient.connect (key_filename, password, transport_factory, ...).
    """

    def __init__(self, host: str, *, ssh_config: paramiko.SSHConfig, user: str | None = None,
                 port: int | None = None, gateway: Hop | str | bool | None = False,
                 connect_timeout: int | None = None, connect_kwargs: dict[str, Any] | None = None) -> None:
        short_user, host, short_port = split_shorthand(host)
        if short_user is not None:
            if user is not None:
                raise ValueError(f"user given twice for {host}: {short_user}@ and {user}")
            user = short_user
        if short_port is not None:
            if port is not None:
                raise ValueError(f"port given twice for {host}: :{short_port} and {port}")
            port = short_port
        self.ssh_config = ssh_config.lookup(host)
        self.original_host = host
        self.host: str = self.ssh_config.get("hostname", host)
        self.user = user or self.ssh_config.get("user", local_user())
        self.port = port or int(self.ssh_config.get("port", 22))
        self.gateway = gateway
        if connect_timeout is None:
            connect_timeout = self.ssh_config.get("connecttimeout", int(DEFAULT_CONNECT_TIMEOUT))
        self.connect_timeout = int(connect_timeout) if connect_timeout is not None else None
        kwargs = dict(connect_kwargs or {})
        keys = kwargs.get("key_filename", [])
        keys = [keys] if isinstance(keys, str) else list(keys)
        keys += self.ssh_config.get("identityfile", [])  # after the given keys, as Fabric and OpenSSH
        if keys:
            kwargs["key_filename"] = keys
        self.connect_kwargs = kwargs
        self.client = paramiko.SSHClient()
        self.client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # known_hosts.secure_client replaces it
        self.transport: paramiko.Transport | None = None

    def __repr__(self) -> str:
        return f"<Hop {self.user}@{self.host}:{self.port}>"

    @property
    def is_connected(self) -> bool:
        return bool(self.transport.active) if self.transport else False

    def open_gateway(self) -> Any:  # noqa: ANN401 - a Channel or a ProxyCommand: a socket-like object
        if isinstance(self.gateway, str):
            # tokens of the line (%h, %p, ...) expanded as paramiko expands an ssh_config ProxyCommand
            dummy = paramiko.SSHConfig()
            dummy.parse(io.StringIO(f"Host {self.host}\n    ProxyCommand {self.gateway}\n"))
            return paramiko.ProxyCommand(dummy.lookup(self.host)["proxycommand"])
        assert isinstance(self.gateway, Hop)
        self.gateway.open()
        assert self.gateway.transport is not None
        return self.gateway.transport.open_channel(kind="direct-tcpip", dest_addr=(self.host, int(self.port)),
                                                   src_addr=("", 0))

    def open(self) -> None:
        """Connect (the gateway first); nothing to do when already connected."""
        if self.is_connected:
            return
        kwargs = dict(self.connect_kwargs, username=self.user, hostname=self.host, port=self.port)
        if self.gateway:
            kwargs["sock"] = self.open_gateway()
        if self.connect_timeout:
            kwargs["timeout"] = self.connect_timeout
        if "key_filename" in kwargs and not kwargs["key_filename"]:
            del kwargs["key_filename"]
        self.client.connect(**kwargs)
        self.transport = self.client.get_transport()

    def close(self) -> None:
        if self.is_connected:
            self.client.close()
