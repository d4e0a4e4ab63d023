"""SSH transport: one Fabric `Connection` per host for the whole run.

Fabric owns the connection and its configuration (ssh_config, keys, ports); commands go over
raw paramiko channels of that connection, because they let us feed the sudo password and the
payload on stdin and read stdout and stderr without invoke's thread-per-stream runners.

Settings merge like OpenSSH's: what the host's variables (or, below them, the command line)
say explicitly wins; anything left unset comes from ssh_config (`~/.ssh/config` and
`/etc/ssh/ssh_config`, or only the `-F FILE`): Host aliases (HostName), User, Port,
IdentityFile, ProxyJump (chains `a,b`, in OpenSSH's order: a first), ProxyCommand,
ConnectTimeout, UserKnownHostsFile, StrictHostKeyChecking.

Host keys are checked against known_hosts like OpenSSH does, on the target and on every
ProxyJump hop: Fabric's default policy (accept and add any key) is replaced, so an unknown key
is refused with its fingerprint unless the policy is `accept-new` (recorded under a lock, one
appended line) or `off` (warned about once per run), and a changed key is refused under every
policy.

Become is sudo. The password goes on the channel's stdin (or, on `requiretty` hosts, into the
pty) only after sudo has printed its prompt, and the command's own stdin only after a start
marker printed by the become shell, so the password never reaches the command, a command line
or the output. A host whose sudoers says `requiretty` ("sorry, you must have a tty") is
switched to pty mode for become commands: the pty is put in raw mode, stdin is framed by
length (`head -c N`) and stderr/rc come back after markers.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import math
import os
import posixpath
import re
import select
import shlex
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko
from fabric import Config, Connection

from hostprep.errors import HostKeyError, InputError, TransportError, UnreachableError
from hostprep.transport.base import BecomeSpec, RunResult, wrap_sh
from hostprep.transport.options import warn_host_key_checking_off
from hostprep.transport.remote_put import Data, Payload, finish_script, put_via_shell

_PROMPT = "[hostprep-become-password]"
HOST_KEY_POLICIES = ("strict", "accept-new", "off")
DEFAULT_CONNECT_TIMEOUT = 10.0
_TTY_REQUIRED = re.compile(r"sorry, you must have a tty to run sudo|you must have a tty", re.IGNORECASE)
_SFTP_SERVERS = ("/usr/libexec/openssh/sftp-server", "/usr/lib/openssh/sftp-server", "/usr/lib/ssh/sftp-server",
                 "/usr/libexec/sftp-server", "/usr/lib/sftp-server")
_STRICT_MAP = {"no": "off", "off": "off", "false": "off", "accept-new": "accept-new", "yes": "strict",
               "ask": "strict", "true": "strict", "strict": "strict"}


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style SHA256 fingerprint of a public key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def parse_ssh_args(text: str | None) -> dict[str, str]:
    """The `-o Key=Value` (and `-J`, `-i`, `-p`, `-F`) options in ansible_ssh_common_args/extra_args.

    Keys are lower-cased like ssh_config keywords; `-J x` becomes `proxyjump`.
    """
    opts: dict[str, str] = {}
    if not text:
        return opts
    words = shlex.split(str(text))
    i = 0
    flag_map = {"-J": "proxyjump", "-i": "identityfile", "-p": "port", "-F": "configfile", "-l": "user"}
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
            opts.setdefault(key.strip().lower(), val.strip())  # ssh: the first value given wins
        elif word[:2] in flag_map:
            value = word[2:] or (words[i + 1] if i + 1 < len(words) else "")
            if not word[2:]:
                i += 1
            opts.setdefault(flag_map[word[:2]], value)
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


# -- known_hosts ----------------------------------------------------------------------------
_KNOWN_HOSTS_LOCK = threading.Lock()


def _host_entries(path: Path, hostname: str) -> dict[str, paramiko.PKey] | None:
    try:
        keys = paramiko.HostKeys(str(path))
    except (OSError, paramiko.SSHException):
        return None
    return keys.lookup(hostname)


def record_host_key(path: Path, hostname: str, key: paramiko.PKey, *, hashed: bool = False) -> None:
    """Append `hostname key` to known_hosts once, under a thread and a file lock.

    The file is re-read under the lock: a key another worker recorded meanwhile is accepted
    (nothing written twice), a different key recorded meanwhile is refused as changed.
    """
    if str(path) == os.devnull:
        return
    name = paramiko.HostKeys.hash_host(hostname) if hashed else hostname  # ssh_config HashKnownHosts
    line = f"{name} {key.get_name()} {key.get_base64()}\n".encode()
    with _KNOWN_HOSTS_LOCK:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            known = _host_entries(path, hostname)
            if known:
                if known.get(key.get_name()) == key:
                    return
                old = next(iter(known.values()))
                raise HostKeyError(
                    f"host key for {hostname} CHANGED: {path} has {fingerprint(old)}, the host offers "
                    f"{fingerprint(key)}; refusing to connect"
                )
            size = os.fstat(fd).st_size
            if size:
                os.lseek(fd, size - 1, os.SEEK_SET)
                if os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line
            os.write(fd, line)  # one write on an O_APPEND descriptor: never interleaved
            os.fsync(fd)
        finally:
            os.close(fd)


class _KnownHostsPolicy(paramiko.MissingHostKeyPolicy):
    """Decide on a key that known_hosts does not list (paramiko itself refuses changed keys)."""

    def __init__(self, policy: str, record_to: Path, where: str, hashed: bool = False) -> None:
        self.policy = policy
        self.record_to = record_to
        self.where = where
        self.hashed = hashed

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        if self.policy == "off":
            return
        if self.policy == "accept-new":
            record_host_key(self.record_to, hostname, key, hashed=self.hashed)
            client.get_host_keys().add(hostname, key.get_name(), key)
            return
        raise HostKeyError(
            f"host key for {hostname} is not known ({key.get_name()} {fingerprint(key)}); "
            f"add it to {self.record_to} or use --host-key-policy accept-new"
        )


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
        opts = parse_ssh_args(hv.get("ansible_ssh_common_args"))
        for key, value in parse_ssh_args(hv.get("ansible_ssh_extra_args")).items():
            opts.setdefault(key, value)
        port = hv.get("ansible_port", hv.get("ansible_ssh_port", opts.get("port")))
        keys = hv.get("ansible_ssh_private_key_file", hv.get("ansible_private_key_file")) or opts.get(
            "identityfile"
        )
        known = opts.get("userknownhostsfile")
        policy: str | None = None
        if hv.get("hostprep_host_key_policy") not in (None, ""):
            policy = policy_from_word(hv["hostprep_host_key_policy"], "hostprep_host_key_policy")
        else:
            for var in ("ansible_host_key_checking", "ansible_ssh_host_key_checking"):
                if hv.get(var) not in (None, ""):
                    from hostprep.modules.base import to_bool

                    policy = "strict" if to_bool(hv[var], var) else "off"
                    break
            else:
                if opts.get("stricthostkeychecking"):
                    policy = policy_from_word(opts["stricthostkeychecking"], "StrictHostKeyChecking")
        cli_policy = hv.get("hostprep_cli_host_key_policy")
        if cli_policy is not None:
            cli_policy = policy_from_word(cli_policy, "--host-key-policy")
        try:
            port_num = int(port) if port not in (None, "") else None
        except (TypeError, ValueError):
            raise InputError(f"port {port!r} of host {name} is not a number", key="ansible_port") from None
        timeout = hv.get("ansible_ssh_timeout", hv.get("ansible_timeout", opts.get("connecttimeout")))
        try:
            timeout_num = float(timeout) if timeout not in (None, "") else None
        except (TypeError, ValueError):
            raise InputError(f"timeout {timeout!r} of host {name} is not a number", key="ansible_timeout") from None
        ssh_config = opts.get("configfile") or hv.get("hostprep_ssh_config") or hv.get("hostprep_cli_ssh_config")
        password = hv.get("ansible_password", hv.get("ansible_ssh_pass"))
        user = hv.get("ansible_user", hv.get("ansible_ssh_user", opts.get("user")))
        files = [Path(os.path.expanduser(k)) for k in known.split()] if known else None
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
            connect_timeout=timeout_num,
            keepalive=_int_opt(opts, "serveraliveinterval", 15, name),
            keepalive_count=_int_opt(opts, "serveralivecountmax", 3, name),
        )


def _int_opt(opts: Mapping[str, str], key: str, default: int, host: str) -> int:
    value = opts.get(key)
    if value in (None, ""):
        return default
    try:
        return int(str(value))
    except ValueError:
        raise InputError(f"{key} {value!r} of host {host} is not a number", key="ansible_ssh_common_args") from None


class _Liveness:
    """OpenSSH's ServerAlive check for one connection: a host that stops answering is given up.

    paramiko's own keepalive only sends packets and never looks for a reply, so a host that
    hangs (or a cut network) would keep a command waiting until the kernel's TCP timeout. While
    a command is silent, a `keepalive@openssh.com` request that wants a reply is sent from a
    helper thread every interval; with no reply for `count` intervals the host is dead.
    """

    def __init__(self, transport: paramiko.Transport, interval: float, count: int) -> None:
        self.transport = transport
        self.interval = interval
        self.limit = interval * max(1, count)
        self._asked_at: float | None = None
        self._lock = threading.Lock()

    def _ask(self) -> None:
        try:
            self.transport.global_request("keepalive@openssh.com", wait=True)
        except Exception:  # noqa: BLE001 - a dead transport shows as no answer
            return
        if self.transport.is_active():
            with self._lock:
                self._asked_at = None

    def check(self, silent_for: float) -> None:
        """Called while waiting on a command; raises EOFError once the host stopped answering."""
        if self.interval <= 0 or silent_for < self.interval:
            return
        now = time.monotonic()
        with self._lock:
            if self._asked_at is None:
                self._asked_at = now
                threading.Thread(target=self._ask, name="hostprep-keepalive", daemon=True).start()
                return
            waited = now - self._asked_at
        if waited > self.limit:
            raise EOFError(f"no answer to keepalives for {waited:.0f}s")


def _whole_seconds(timeout: float | None) -> int | None:
    """Fabric takes whole seconds (and int(0.5) would mean no timeout at all)."""
    return max(1, math.ceil(timeout)) if timeout else None


def _chain(conn: Any) -> list[Connection]:
    """A connection and its ProxyJump gateways, target first."""
    out = []
    while isinstance(conn, Connection):
        out.append(conn)
        conn = conn.gateway
    return out


def _failing_hop_name(conn: Connection, hostname: str) -> str:
    """known_hosts name (`host` or `[host]:port`) of the first hop of the chain that did not connect."""
    for hop in reversed(_chain(conn)):
        if not hop.is_connected and hop.host == hostname:
            return hop.host if int(hop.port) == 22 else f"[{hop.host}]:{hop.port}"
    return hostname


class SSHTransport:
    """A host reached over SSH, with one Fabric Connection reused by every command."""

    def __init__(self, settings: SSHSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.round_trips = 0
        self._conn: Connection | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._become_sftp: dict[tuple[str, str], paramiko.SFTPClient] = {}
        self._no_become_sftp: set[tuple[str, str]] = set()
        self.pty_become = False  # set once sudo said it needs a tty (sudoers requiretty)

    @classmethod
    def from_hostvars(cls, name: str, hostvars: Mapping[str, Any]) -> SSHTransport:
        return cls(SSHSettings.from_hostvars(name, hostvars))

    # -- connection --------------------------------------------------------------------
    def _config(self) -> Config:
        s = self.settings
        overrides: dict[str, Any] = {"load_ssh_configs": True, "timeouts": {"connect": int(DEFAULT_CONNECT_TIMEOUT)}}
        if s.ssh_config:
            if not os.path.isfile(s.ssh_config):
                raise InputError(f"ssh config file {s.ssh_config} does not exist", key="-F")
            overrides["ssh_config_path"] = s.ssh_config
        return Config(overrides=overrides)

    def _make_connection(self) -> Connection:
        s = self.settings
        config = self._config()
        connect_kwargs: dict[str, Any] = {}
        if s.key_files:
            connect_kwargs.update(key_filename=list(s.key_files), look_for_keys=False)
        if s.password is not None:
            connect_kwargs["password"] = s.password
        jump = s.proxy_jump or ("none" if s.proxy_command else None)
        conn = self._connection(s.host, config, user=s.user, port=s.port, connect_kwargs=connect_kwargs,
                                jump=jump, timeout=s.connect_timeout, seen=())
        if s.proxy_command and not s.proxy_jump and s.proxy_command.lower() != "none":
            # -o ProxyCommand=... in the host's ssh args; tokens expanded here (Fabric would take %p as 22)
            tokens = {"%h": conn.host, "%p": str(conn.port), "%r": conn.user or "", "%n": conn.original_host,
                      "%%": "%"}
            conn.gateway = re.sub(r"%[hprn%]", lambda m: tokens[m.group(0)], s.proxy_command)
        for hop in _chain(conn):
            self._secure_client(hop)
        return conn

    def _connection(self, host: str, config: Config, *, user: str | None, port: int | None,
                    connect_kwargs: dict[str, Any], jump: str | None, timeout: float | None,
                    seen: tuple[str, ...]) -> Connection:
        """A Connection whose gateway chain follows ProxyJump in OpenSSH's order (first hop first).

        (Fabric's own ProxyJump handling opens `a,b` as b first, then a; and it accepts any
        host key on the hops. So hostprep builds the chain itself.)
        """
        conn = Connection(host, user=user, port=port, config=config, gateway=False,
                          connect_timeout=_whole_seconds(timeout), connect_kwargs=connect_kwargs)
        if jump is None:
            jump = conn.ssh_config.get("proxyjump")
        if jump and jump.lower() != "none":
            if len(seen) > 8:
                raise InputError(f"ProxyJump chain for {host} is too long (loop in ssh_config?)")
            hop_kwargs = {"key_filename": list(self.settings.key_files)} if self.settings.key_files else {}
            gateway: Connection | None = None
            for i, hop in enumerate(h.strip() for h in jump.split(",")):
                hop_user, _, hostport = hop.rpartition("@")
                hop_host, _, hop_port = hostport.partition(":")
                me = (host, port or conn.port)
                if (hop_host, int(hop_port) if hop_port else me[1]) == me:
                    continue  # `Host *` with ProxyJump matches the jump host itself: no loop
                if i == 0:
                    gateway = self._connection(hop_host, config, user=hop_user or None,
                                               port=int(hop_port) if hop_port else None,
                                               connect_kwargs=dict(hop_kwargs), jump=None, timeout=timeout,
                                               seen=(*seen, f"{host}:{port or conn.port}"))
                else:
                    gateway = Connection(hop_host, user=hop_user or None, port=int(hop_port) if hop_port else None,
                                         config=config, gateway=gateway or False,
                                         connect_timeout=_whole_seconds(timeout),
                                         connect_kwargs=dict(hop_kwargs))
            conn.gateway = gateway or False
        elif jump is None and conn.ssh_config.get("proxycommand", "none").lower() != "none":
            conn.gateway = conn.ssh_config["proxycommand"]
        return conn

    def _host_key_policy(self, conn: Connection) -> str:
        s = self.settings
        if s.host_key_policy_source != "default":
            return s.host_key_policy
        word = conn.ssh_config.get("stricthostkeychecking")
        return policy_from_word(word, "StrictHostKeyChecking") if word else "strict"

    def _secure_client(self, conn: Connection) -> None:
        """known_hosts and the host-key policy for one connection of the chain."""
        s = self.settings
        client = conn.client
        if s.known_hosts_files:
            files = s.known_hosts_files
        elif conn.ssh_config.get("userknownhostsfile"):
            files = [Path(os.path.expanduser(p)) for p in str(conn.ssh_config["userknownhostsfile"]).split()]
        else:
            files = [Path("~/.ssh/known_hosts").expanduser(), Path("~/.ssh/known_hosts2").expanduser()]
        global_files = str(conn.ssh_config.get("globalknownhostsfile", "/etc/ssh/ssh_known_hosts")).split()
        # a fresh, private key store: only what these files say counts
        client._system_host_keys = paramiko.HostKeys()  # noqa: SLF001 - paramiko has no public reset
        for path in [*files, *(Path(p) for p in global_files)]:
            if str(path) != os.devnull and path.is_file():
                try:
                    client.load_system_host_keys(str(path))
                except (OSError, paramiko.SSHException) as exc:
                    raise InputError(f"cannot read known_hosts file {path}: {exc}") from None
        policy = self._host_key_policy(conn)
        if policy == "off":
            warn_host_key_checking_off(f"first for {conn.original_host}")
        hashed = str(conn.ssh_config.get("hashknownhosts", "no")).lower() == "yes"
        client.set_missing_host_key_policy(_KnownHostsPolicy(policy, files[0], conn.original_host, hashed))

    def connect(self) -> Connection:
        """Open the connection once (with retries for transient failures); reuse it afterwards."""
        if self._conn is not None and self._conn.is_connected:
            return self._conn
        s = self.settings
        last: Exception | None = None
        for attempt in range(s.connect_retries + 1):
            conn = self._make_connection()
            try:
                conn.open()
                for hop in _chain(conn):
                    transport = hop.client.get_transport()
                    if transport is not None and s.keepalive:
                        transport.set_keepalive(s.keepalive)
                self._conn = conn
                return conn
            except HostKeyError:
                self._close_chain(conn)
                raise
            except paramiko.BadHostKeyException as exc:
                where = _failing_hop_name(conn, exc.hostname)
                self._close_chain(conn)
                raise HostKeyError(
                    f"host key for {where} CHANGED: known_hosts has {fingerprint(exc.expected_key)}, "
                    f"the host offers {fingerprint(exc.key)}; refusing to connect (possible "
                    f"man-in-the-middle). Remove the old key if the change is expected."
                ) from None
            except paramiko.AuthenticationException as exc:
                self._close_chain(conn)
                raise UnreachableError(f"authentication failed for {conn.user or ''}@{conn.host}: {exc}") from None
            except (TimeoutError, OSError, paramiko.SSHException, EOFError) as exc:
                self._close_chain(conn)
                last = exc
                if attempt < s.connect_retries:
                    time.sleep(0.5 * (attempt + 1))
        raise UnreachableError(f"cannot connect to {s.host}:{s.port or 22}: {last}")

    @staticmethod
    def _close_chain(conn: Connection) -> None:
        for hop in _chain(conn):
            try:
                hop.close()
            except Exception:  # noqa: BLE001 - closing a half-open hop must not mask the real error
                pass

    def reconnect(self, timeout: float = 600.0) -> None:
        """Drop the connection and connect again, waiting up to `timeout` (used after a reboot)."""
        self.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connect()
                return
            except HostKeyError:
                raise
            except UnreachableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)

    def _channel(self, *, pty: bool = False) -> paramiko.Channel:
        conn = self.connect()
        try:
            chan = conn.client.get_transport().open_session(timeout=self.settings.connect_timeout
                                                           or DEFAULT_CONNECT_TIMEOUT)
            if pty:
                chan.get_pty(term="dumb", width=200, height=50)
            return chan
        except (paramiko.SSHException, OSError, EOFError, AttributeError) as exc:
            self._drop()
            raise UnreachableError(f"connection to {self.settings.host} lost: {exc}") from None

    def _drop(self) -> None:
        if self._conn is not None:
            self._close_chain(self._conn)
        self._conn = None
        self._sftp = None
        self._become_sftp.clear()

    # -- commands ----------------------------------------------------------------------
    def run(
        self,
        command: str,
        *,
        become: BecomeSpec | None = None,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> RunResult:
        """Run `command` with /bin/sh -c (as the become user if asked); never raises on rc != 0."""
        return self.run_payload(command, become=become, env=env, payload=Payload(stdin), timeout=timeout)

    def run_payload(self, command: str, *, become: BecomeSpec | None = None, env: dict[str, str] | None = None,
                    payload: Payload, timeout: float | None = None) -> RunResult:
        """`run` with stdin from a `Payload` (bytes or a file, streamed)."""
        self.round_trips += 1
        sudo = become is not None and become.enabled
        if not sudo:
            chan = self._channel()
            return self._exchange(chan, wrap_sh(command, env), payload, timeout)
        assert become is not None
        if become.method != "sudo":
            raise TransportError(f"become_method {become.method!r} is not supported (only sudo)")
        if not self.pty_become:
            mark = "hostprep-start-" + os.urandom(8).hex()
            inner = f"printf %s {mark}; exec {wrap_sh(command, env)}"
            line = self._sudo_line(become, "/bin/sh -c " + shlex.quote(inner), tty=False)
            chan = self._channel()
            result = self._exchange(chan, line, payload, timeout, password=become.password, mark=mark)
            if not getattr(result, "started", True) and _TTY_REQUIRED.search(result.stderr):
                self.pty_become = True  # sudoers `requiretty`: this host's become commands get a pty
            else:
                return result
        return self._run_pty(command, become, env, payload, timeout)

    @staticmethod
    def _sudo_line(become: BecomeSpec, inner: str, *, tty: bool) -> str:
        user = shlex.quote(become.user or "root")
        if become.password is None:
            auth = "-n"
        elif tty:
            auth = f"-p {shlex.quote(_PROMPT)}"
        else:
            auth = f"-S -p {shlex.quote(_PROMPT)}"
        flags = f" {become.flags}" if become.flags else ""
        return f"sudo -H {auth} -u {user}{flags} {inner}"

    def _run_pty(self, command: str, become: BecomeSpec, env: dict[str, str] | None, payload: Payload,
                 timeout: float | None) -> RunResult:
        """A become command on a pty (for `requiretty`), with stdout, stderr and rc kept apart."""
        token = os.urandom(8).hex()
        start, errmark, rcmark = f"hostprep-start-{token}", f"hostprep-stderr-{token}", f"hostprep-rc-{token}"
        size = len(payload)
        feed = f"head -c {size} | " if size else ""
        tail = "" if size else " </dev/null"
        inner = "\n".join([
            'e=$(mktemp 2>/dev/null) || e=/tmp/.hostprep-err-$$',
            f"printf %s {start}",
            f'{{ {feed}{wrap_sh(command, env)}{tail}; }} 2>"$e"',
            "rc=$?",
            f'printf %s {errmark}; cat "$e"; rm -f "$e"; printf "%s%d:" {rcmark} "$rc"',
            'exit "$rc"',
        ])
        line = "stty raw -echo 2>/dev/null; exec " + self._sudo_line(become, "/bin/sh -c " + shlex.quote(inner),
                                                                      tty=True)
        chan = self._channel(pty=True)
        result = self._exchange(chan, line, payload, timeout, password=become.password, mark=start, pty=True)
        if not getattr(result, "started", True):
            return result
        out = result.stdout
        i = out.rfind(errmark)
        j = out.rfind(rcmark)
        if i < 0 or j < i:
            return RunResult(result.rc, out, result.stderr + "\nhostprep: command output was cut off")
        rc_text = out[j + len(rcmark):].split(":", 1)[0]
        rc = int(rc_text) if rc_text.lstrip("-").isdigit() else result.rc
        return RunResult(rc, out[:i], result.stderr + out[i + len(errmark):j])

    def _exchange(self, chan: paramiko.Channel, line: str, payload: Payload, timeout: float | None, *,
                  password: str | None = None, mark: str | None = None, pty: bool = False) -> RunResult:
        """Drive one command: answer sudo's prompt, then send stdin, and collect stdout/stderr/rc.

        With `mark`, stdin (and nothing else) is sent only once the become shell printed the
        mark; the password only in answer to sudo's prompt, and once (a second prompt means it
        was wrong: stdin is closed and sudo fails).
        """
        out, err, chatter = bytearray(), bytearray(), bytearray()
        prompt = _PROMPT.encode()
        mark_b = mark.encode() if mark else b""
        started = mark is None
        answered = 0
        chunks = payload.chunks(32768)
        pending: memoryview | None = None
        sending = True
        deadline = time.monotonic() + timeout if timeout else None
        liveness = self._liveness(chan)
        last_rx = time.monotonic()
        try:
            chan.exec_command(line)
            while True:
                got = len(out) + len(err)
                while chan.recv_ready():
                    out += chan.recv(65536)
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                if len(out) + len(err) != got:
                    last_rx = time.monotonic()
                elif liveness is not None:
                    liveness.check(time.monotonic() - last_rx)
                if not started:
                    idx = out.find(mark_b)
                    if idx >= 0:
                        chatter += out[:idx]
                        del out[: idx + len(mark_b)]
                        started = True
                    else:
                        seen = (out if pty else err).count(prompt)
                        if seen > answered:
                            if answered == 0 and password is not None:
                                chan.sendall(password.encode() + b"\n")
                            elif pty:
                                answered = seen
                                chan.close()  # wrong password: stop sudo asking again
                                break
                            else:
                                chan.shutdown_write()
                                sending = False
                            answered = seen
                if started and sending and chan.send_ready():
                    if pending is None:
                        pending = next(chunks, None)
                    if pending is None:
                        sending = False
                        if not pty:
                            chan.shutdown_write()
                    else:
                        n = chan.send(pending)
                        pending = pending[n:] if n < len(pending) else None
                # done once the exit status and EOF arrived and nothing is left to read
                if (chan.exit_status_ready() and (chan.eof_received or chan.closed)
                        and not chan.recv_ready() and not chan.recv_stderr_ready()):
                    break
                if deadline and time.monotonic() > deadline:
                    raise TransportError(f"command timed out after {timeout}s on {self.name}")
                select.select([chan], [], [], 0.02 if (started and sending) else 0.2)
            rc = chan.recv_exit_status() if chan.exit_status_ready() else 1
            if rc < 0 and not self._alive():
                raise EOFError("the connection closed before the command's exit status came")
            rc = 1 if rc < 0 else rc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self._drop()
            raise UnreachableError(f"connection to {self.settings.host} lost: {exc}") from None
        finally:
            chan.close()
        if not started:  # sudo failed before the command ran: what it said is the error
            chatter += out
            out = bytearray()
        # sudo's own words before the command started: its prompt (and the newline it prints after
        # reading the password) are not part of the result
        before = re.sub(re.escape(_PROMPT) + r"\r?\n?", "", chatter.decode("utf-8", "replace")).replace("\r\n", "\n")
        stderr = (before if before.strip() else "") + err.decode("utf-8", "replace").replace(_PROMPT, "")
        if not started and answered > 1:
            stderr += "\nhostprep: sudo refused the become password"
        result = RunResult(rc, out.decode("utf-8", "replace"), stderr)
        result.started = started  # type: ignore[attr-defined]
        return result

    # -- files -------------------------------------------------------------------------
    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            try:
                self._sftp = self.connect().client.open_sftp()
            except (paramiko.SSHException, OSError, EOFError) as exc:
                self._drop()
                raise UnreachableError(f"connection to {self.settings.host} lost: {exc}") from None
        return self._sftp

    def become_sftp(self, become: BecomeSpec) -> paramiko.SFTPClient | None:
        """An SFTP session running as the become user (`sudo sftp-server`), or None if there is none.

        None on `requiretty` hosts and hosts without an sftp-server binary: files then go through
        the shell (`put_via_shell`).
        """
        key = (become.user or "root", become.flags)
        if key in self._become_sftp:
            return self._become_sftp[key]
        if self.pty_become or key in self._no_become_sftp or become.method != "sudo":
            return None
        mark = "hostprep-start-" + os.urandom(8).hex()
        paths = " ".join(shlex.quote(p) for p in _SFTP_SERVERS)
        inner = (f'for p in {paths}; do if [ -x "$p" ]; then printf %s {mark}; exec "$p"; fi; done; '
                 'echo "hostprep: no sftp-server on this host" >&2; exit 127')
        chan = self._channel()
        prompt = _PROMPT.encode()
        out, err = bytearray(), bytearray()
        answered = 0
        deadline = time.monotonic() + (self.settings.connect_timeout or DEFAULT_CONNECT_TIMEOUT) + 20
        try:
            chan.exec_command(self._sudo_line(become, "/bin/sh -c " + shlex.quote(inner), tty=False))
            while len(out) < len(mark):
                if chan.recv_ready():
                    out += chan.recv(len(mark) - len(out))  # never read past the mark
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                if err.count(prompt) > answered:
                    if answered or become.password is None:
                        break
                    chan.sendall(become.password.encode() + b"\n")
                    answered = err.count(prompt)
                if chan.exit_status_ready() and not chan.recv_ready() or time.monotonic() > deadline:
                    break
                select.select([chan], [], [], 0.1)
            if bytes(out) != mark.encode():
                chan.close()
                if _TTY_REQUIRED.search(err.decode("utf-8", "replace")):
                    self.pty_become = True
                self._no_become_sftp.add(key)
                return None
            client = paramiko.SFTPClient(chan)
        except (OSError, EOFError, paramiko.SSHException):
            chan.close()
            self._no_become_sftp.add(key)
            return None
        self._become_sftp[key] = client
        return client

    def put(
        self,
        data: Data,
        dest: str,
        *,
        mode: str | None = None,
        owner: str | None = None,
        group: str | None = None,
        become: BecomeSpec | None = None,
    ) -> None:
        """Atomic write: SFTP to a temp file in dest's directory, checksum verified, mode/owner set, rename.

        `data` may be bytes or a seekable binary file (streamed in chunks, never read whole).
        Under become the SFTP session runs as the become user; where there is none (requiretty),
        the bytes go through the shell. A failed or interrupted upload leaves `dest` untouched and
        removes the temp file (a lost connection can leave only a `.hostprep-*` file behind).
        """
        if isinstance(mode, int):
            mode = format(mode, "04o")
        payload = Payload(data)
        sudo = self._needs_sudo(become)
        sftp = self.become_sftp(become) if sudo else self.sftp()  # type: ignore[arg-type]
        if sftp is None:
            put_via_shell(self, payload, dest, mode=mode, owner=owner, group=group, become=become)
            return
        tmp = f"{posixpath.dirname(dest) or '.'}/.hostprep-{os.urandom(6).hex()}"
        digest = hashlib.sha256()
        self.round_trips += 1
        try:
            with sftp.open(tmp, "wbx") as handle:
                handle.chmod(0o600)  # nobody else reads it while it is being written
                handle.set_pipelined(True)
                for chunk in payload.chunks():
                    digest.update(chunk)
                    handle.write(chunk)
        except BaseException as exc:
            try:
                sftp.remove(tmp)
            except Exception:  # noqa: BLE001 - the connection may be gone; the temp stays a .hostprep-*
                pass
            if isinstance(exc, (OSError, paramiko.SSHException, EOFError)):
                if isinstance(exc, (EOFError, paramiko.SSHException)) or not self._alive():
                    self._drop()
                    raise UnreachableError(f"connection to {self.settings.host} lost while writing {dest}") \
                        from None
                raise TransportError(f"writing {dest} on {self.name} failed: {exc}") from None
            raise
        res = self.run(finish_script(tmp, dest, digest.hexdigest(), mode, owner, group),
                       become=become if sudo else None)
        if res.rc != 0:
            raise TransportError(f"writing {dest} on {self.name} failed (rc={res.rc}): {res.stderr.strip()}")

    def _liveness(self, chan: paramiko.Channel) -> _Liveness | None:
        s = self.settings
        if not s.keepalive:
            return None
        transport = chan.get_transport()
        current = getattr(self, "_live", None)
        if current is None or current.transport is not transport:
            current = _Liveness(transport, float(s.keepalive), s.keepalive_count)
            self._live = current
        return current

    def _alive(self) -> bool:
        conn = self._conn
        transport = conn.client.get_transport() if conn is not None else None
        return bool(transport and transport.is_active())

    def _needs_sudo(self, become: BecomeSpec | None) -> bool:
        """Whether file work needs the become user's SFTP (not when we log in as that user already)."""
        if become is None or not become.enabled:
            return False
        return become.flags != "" or self.connect().user != (become.user or "root")

    def get(self, path: str, *, become: BecomeSpec | None = None) -> bytes:
        sudo = self._needs_sudo(become)
        sftp = self.become_sftp(become) if sudo else self.sftp()  # type: ignore[arg-type]
        if sftp is None:
            res = self.run(f"base64 < {shlex.quote(path)}", become=become)
            if res.rc != 0:
                raise TransportError(f"reading {path} on {self.name} failed: {res.stderr.strip()}")
            return base64.b64decode(res.stdout)
        self.round_trips += 1
        try:
            with sftp.open(path, "rb") as handle:
                handle.prefetch()
                return handle.read()
        except OSError as exc:
            raise TransportError(f"reading {path} on {self.name} failed: {exc}") from None

    def close(self) -> None:
        for client in [self._sftp, *self._become_sftp.values()]:
            if client is not None:
                try:
                    client.close()
                except Exception:  # noqa: BLE001 - closing a dead channel must not mask the real error
                    pass
        self._sftp = None
        self._become_sftp.clear()
        if self._conn is not None:
            self._close_chain(self._conn)
            self._conn = None
