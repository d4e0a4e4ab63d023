"""One host's SSH connection: a Fabric `Connection` with its ProxyJump chain, opened once.

The chain follows OpenSSH's order (ProxyJump `a,b`: a first, then b from a); Fabric's own
ProxyJump handling opens b first and accepts any host key on the hops, so the chain is built
here and every client of it is secured by known_hosts.py. ProxyCommand (from ssh args or
ssh_config) is expanded here too (Fabric would take %p as 22).

Liveness is OpenSSH's ServerAlive check: paramiko's own keepalive only sends packets and never
looks for a reply, so a host that hangs (or a cut network) would keep a command waiting until
the kernel's TCP timeout.
"""

from __future__ import annotations

import math
import os
import re
import socket
import threading
import time
from typing import Any

import paramiko
from fabric import Config, Connection

from hostprep.errors import HostKeyError, InputError, UnreachableError
from hostprep.transport.known_hosts import changed_key_error, secure_client
from hostprep.transport.settings import DEFAULT_CONNECT_TIMEOUT, SSHSettings


def connect_cause(exc: Exception | None) -> str:
    """The system's words for a failed connect ("Connection refused", "No route to host", ...).

    paramiko wraps refused connects in NoValidConnectionsError ("[Errno None] Unable to connect"),
    which hides the cause: the per-address socket errors it holds carry it.
    """
    errors = getattr(exc, "errors", None)
    if isinstance(errors, dict) and errors:
        first = next(iter(errors.values()))
        return getattr(first, "strerror", None) or str(first)
    if isinstance(exc, TimeoutError):
        return "Connection timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) if exc is not None else "unknown error"

# AES-GCM first: an AEAD cipher needs no separate MAC, and paramiko checks each packet's MAC with a
# byte-by-byte comparison in Python (util.constant_time_bytes_eq) plus an HMAC object per packet: on a
# first apply to 50 hosts that was about a sixth of the control node's CPU. OpenSSH has offered
# aes128-gcm since 6.2 (EL7 ships 7.4); a server without it still agrees on the ciphers after it.
_AEAD = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")


class _Transport(paramiko.Transport):
    _preferred_ciphers = (*(c for c in _AEAD if c in paramiko.Transport._preferred_ciphers),
                          *(c for c in paramiko.Transport._preferred_ciphers if c not in _AEAD))
    # paramiko's reader thread wakes this often on a silent connection only to see whether it was
    # closed (0.1 s by default: 50 connections waiting on dnf cost about 1.3% of a core); closing
    # still returns at once (the packetizer is marked closed first) and the daemon thread ends by itself
    _active_check_timeout = 1.0


class Liveness:
    """The ServerAlive check of one connection: a host that stops answering is given up.

    As OpenSSH's ServerAliveInterval: after `interval` seconds in which nothing came from the host, a
    `keepalive@openssh.com` request that wants a reply is sent (from a helper thread); its reply counts as
    hearing from the host, so the next request goes only after another `interval` of silence. With no reply
    for `count` intervals the host is dead. (Asking again at every wake of a waiting command once it had been
    silent for one interval sent one request, and started one thread, per second per host: a fifth of the
    control node's CPU on a first apply to 50 hosts, whose dnf runs are silent for minutes.)
    """

    def __init__(self, transport: paramiko.Transport, interval: float, count: int) -> None:
        self.transport = transport
        self.interval = interval
        self.limit = interval * max(1, count)
        self._asked_at: float | None = None
        self._answered_at: float | None = None
        self._lock = threading.Lock()
        self.asked = 0  # requests sent (the tests read it)

    def _ask(self) -> None:
        try:
            self.transport.global_request("keepalive@openssh.com", wait=True)
        except Exception:  # noqa: BLE001 - a dead transport shows as no answer
            return
        if self.transport.is_active():
            with self._lock:
                self._asked_at = None
                self._answered_at = time.monotonic()

    def check(self, silent_for: float) -> None:
        """Called while waiting on a command; raises EOFError once the host stopped answering.

        `silent_for` is how long the command's channel has been silent; a keepalive reply heard since
        then shortens the silence that counts.
        """
        if self.interval <= 0 or silent_for < self.interval:
            return
        now = time.monotonic()
        with self._lock:
            if self._asked_at is None:
                if self._answered_at is not None and now - self._answered_at < self.interval:
                    return
                self._asked_at = now
                self.asked += 1
                threading.Thread(target=self._ask, name="hostprep-keepalive", daemon=True).start()
                return
            waited = now - self._asked_at
        if waited > self.limit:
            raise EOFError(f"no answer to keepalives for {waited:.0f}s")


def whole_seconds(timeout: float | None) -> int | None:
    """Fabric takes whole seconds (and int(0.5) would mean no timeout at all)."""
    return max(1, math.ceil(timeout)) if timeout else None


def chain_of(conn: Any) -> list[Connection]:
    """A connection and its ProxyJump gateways, target first."""
    out = []
    while isinstance(conn, Connection):
        out.append(conn)
        conn = conn.gateway
    return out


def close_chain(conn: Connection) -> None:
    for hop in chain_of(conn):
        try:
            hop.close()
        except Exception:  # noqa: BLE001 - closing a half-open hop must not mask the real error
            pass


def _failing_hop_name(conn: Connection, hostname: str) -> str:
    """known_hosts name (`host` or `[host]:port`) of the first hop of the chain that did not connect."""
    for hop in reversed(chain_of(conn)):
        if not hop.is_connected and hop.host == hostname:
            return hop.host if int(hop.port) == 22 else f"[{hop.host}]:{hop.port}"
    return hostname


def no_delay(transport: paramiko.Transport | None) -> None:
    """Send each SSH packet at once (TCP_NODELAY), as OpenSSH's client does for interactive sessions.

    With Nagle's algorithm on, a small packet (a channel open, an exec request) sent while an earlier one is
    not yet acknowledged waits for that ACK, which the host delays up to 40 ms: every command of a run
    (each is a new session channel) paid about 30 ms for it, more than the command itself took on the host.
    A hop reached through another (ProxyJump, ProxyCommand) has no socket of its own to set.
    """
    sock = getattr(transport, "sock", None)
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class HostConnection:
    """The connection of one host for the whole run: opened on first use, reused, re-opened if lost."""

    def __init__(self, settings: SSHSettings) -> None:
        self.settings = settings
        self.conn: Connection | None = None
        self._live: Liveness | None = None

    # -- building the chain --------------------------------------------------------------
    def _config(self) -> Config:
        s = self.settings
        overrides: dict[str, Any] = {"load_ssh_configs": True, "timeouts": {"connect": int(DEFAULT_CONNECT_TIMEOUT)}}
        if s.ssh_config:
            if not os.path.isfile(s.ssh_config):
                raise InputError(f"ssh config file {s.ssh_config} does not exist", key="-F")
            overrides["ssh_config_path"] = s.ssh_config
        return Config(overrides=overrides)

    def _make(self) -> Connection:
        s = self.settings
        connect_kwargs: dict[str, Any] = {"transport_factory": _Transport}
        if s.key_files:
            connect_kwargs.update(key_filename=list(s.key_files), look_for_keys=False)
        if s.password is not None:
            connect_kwargs["password"] = s.password
        jump = s.proxy_jump or ("none" if s.proxy_command else None)
        conn = self._hop(s.host, self._config(), user=s.user, port=s.port, connect_kwargs=connect_kwargs,
                         jump=jump, seen=())
        if s.proxy_command and not s.proxy_jump and s.proxy_command.lower() != "none":
            tokens = {"%h": conn.host, "%p": str(conn.port), "%r": conn.user or "", "%n": conn.original_host,
                      "%%": "%"}
            conn.gateway = re.sub(r"%[hprn%]", lambda m: tokens[m.group(0)], s.proxy_command)
        for hop in chain_of(conn):
            secure_client(s, hop)
        return conn

    def _hop(self, host: str, config: Config, *, user: str | None, port: int | None,
             connect_kwargs: dict[str, Any], jump: str | None, seen: tuple[str, ...]) -> Connection:
        """A Connection whose gateway chain follows ProxyJump in OpenSSH's order (first hop first)."""
        timeout = whole_seconds(self.settings.connect_timeout)
        conn = Connection(host, user=user, port=port, config=config, gateway=False,
                          connect_timeout=timeout, connect_kwargs=connect_kwargs)
        if jump is None:
            jump = conn.ssh_config.get("proxyjump")
        if jump and jump.lower() != "none":
            if len(seen) > 8:
                raise InputError(f"ProxyJump chain for {host} is too long (loop in ssh_config?)")
            hop_kwargs: dict[str, Any] = {"transport_factory": _Transport}
            if self.settings.key_files:
                hop_kwargs["key_filename"] = list(self.settings.key_files)
            gateway: Connection | None = None
            for i, hop in enumerate(h.strip() for h in jump.split(",")):
                hop_user, _, hostport = hop.rpartition("@")
                hop_host, _, hop_port = hostport.partition(":")
                me = (host, port or conn.port)
                if (hop_host, int(hop_port) if hop_port else me[1]) == me:
                    continue  # `Host *` with ProxyJump matches the jump host itself: no loop
                if i == 0:
                    gateway = self._hop(hop_host, config, user=hop_user or None,
                                        port=int(hop_port) if hop_port else None,
                                        connect_kwargs=dict(hop_kwargs), jump=None,
                                        seen=(*seen, f"{host}:{port or conn.port}"))
                else:
                    gateway = Connection(hop_host, user=hop_user or None, port=int(hop_port) if hop_port else None,
                                         config=config, gateway=gateway or False, connect_timeout=timeout,
                                         connect_kwargs=dict(hop_kwargs))
            conn.gateway = gateway or False
        elif jump is None and conn.ssh_config.get("proxycommand", "none").lower() != "none":
            conn.gateway = conn.ssh_config["proxycommand"]
        return conn

    # -- using it ------------------------------------------------------------------------
    def open(self) -> Connection:
        """Open the connection once (with retries for transient failures); reuse it afterwards."""
        if self.conn is not None and self.conn.is_connected:
            return self.conn
        s = self.settings
        last: Exception | None = None
        for attempt in range(s.connect_retries + 1):
            conn = self._make()
            try:
                conn.open()
                for hop in chain_of(conn):
                    transport = hop.client.get_transport()
                    if transport is not None and s.keepalive:
                        transport.set_keepalive(s.keepalive)
                    no_delay(transport)
                self.conn = conn
                return conn
            except HostKeyError:
                close_chain(conn)
                raise
            except paramiko.BadHostKeyException as exc:
                where = _failing_hop_name(conn, exc.hostname)
                close_chain(conn)
                raise changed_key_error(where, exc.expected_key, exc.key) from None
            except paramiko.AuthenticationException as exc:
                close_chain(conn)
                raise UnreachableError(f"authentication failed for {conn.user or ''}@{conn.host}: {exc}") from None
            except (TimeoutError, OSError, paramiko.SSHException, EOFError) as exc:
                close_chain(conn)
                last = exc
                if attempt < s.connect_retries:
                    time.sleep(0.5 * (attempt + 1))
        raise UnreachableError(f"cannot connect to {s.host}:{s.port or 22}: {connect_cause(last)}")

    def channel(self, *, pty: bool = False) -> paramiko.Channel:
        """A new session channel (with a pty if asked); a lost connection is dropped and reported."""
        conn = self.open()
        try:
            chan = conn.client.get_transport().open_session(timeout=self.settings.connect_timeout
                                                           or DEFAULT_CONNECT_TIMEOUT)
            if pty:
                chan.get_pty(term="dumb", width=200, height=50)
            return chan
        except (paramiko.SSHException, OSError, EOFError, AttributeError) as exc:
            self.drop()
            raise UnreachableError(f"connection to {self.settings.host} lost: {exc}") from None

    def liveness(self, chan: paramiko.Channel) -> Liveness | None:
        """The keepalive watcher of the channel's transport (None when ServerAliveInterval is 0)."""
        s = self.settings
        if not s.keepalive:
            return None
        transport = chan.get_transport()
        if self._live is None or self._live.transport is not transport:
            self._live = Liveness(transport, float(s.keepalive), s.keepalive_count)
        return self._live

    def alive(self) -> bool:
        transport = self.conn.client.get_transport() if self.conn is not None else None
        return bool(transport and transport.is_active())

    def drop(self) -> None:
        """Close the chain (after a failure or for a reconnect); the next use opens a new one."""
        if self.conn is not None:
            close_chain(self.conn)
        self.conn = None
