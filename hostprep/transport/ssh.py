"""SSH transport: one Fabric `Connection` per host for the whole run.

Fabric owns the connection and its configuration (ssh_config, ProxyJump gateways, keys,
ports); commands go over raw paramiko channels of that connection, because they let us
feed the sudo password and the payload on stdin and read stdout and stderr without the
thread-per-stream machinery of invoke's runners.

Host keys are checked against known_hosts like OpenSSH does: Fabric's default policy
(accept and add any unknown key) is replaced, so an unknown key is refused with its
fingerprint unless the policy is `accept-new`, and a changed key is always refused.
"""

from __future__ import annotations

import base64
import hashlib
import os
import select
import shlex
import stat as stat_mod
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko
from fabric import Config, Connection

from hostprep.errors import HostKeyError, InputError, TransportError, UnreachableError
from hostprep.transport.base import BecomeSpec, RunResult, become_prefix, wrap_sh
from hostprep.transport.remote_put import put_via_shell

_PROMPT = "[hostprep-become-password]"
HOST_KEY_POLICIES = ("strict", "accept-new", "off")


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
            opts[key.strip().lower()] = val.strip()
        elif word[:2] in flag_map:
            value = word[2:] or (words[i + 1] if i + 1 < len(words) else "")
            if not word[2:]:
                i += 1
            opts[flag_map[word[:2]]] = value
        i += 1
    return opts


class _KnownHostsPolicy(paramiko.MissingHostKeyPolicy):
    """Decide on a key that known_hosts does not list (paramiko itself refuses changed keys)."""

    def __init__(self, policy: str, known_hosts: Path | None) -> None:
        self.policy = policy
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        if self.policy == "off":
            return
        if self.policy == "accept-new" and self.known_hosts is not None:
            self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
            with open(self.known_hosts, "a", encoding="utf-8") as handle:
                handle.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
            return
        raise HostKeyError(
            f"host key for {hostname} is not known ({key.get_name()} {fingerprint(key)}); "
            f"add it to {self.known_hosts or '~/.ssh/known_hosts'} or use --host-key-policy accept-new"
        )


@dataclass
class SSHSettings:
    """Everything needed to open one host's connection, from Ansible-named variables."""

    name: str
    host: str
    port: int | None = None
    user: str | None = None
    key_files: list[str] = field(default_factory=list)
    password: str | None = field(default=None, repr=False)
    known_hosts: Path | None = None
    host_key_policy: str = "strict"
    proxy_jump: str | None = None
    ssh_config: str | None = None
    connect_timeout: float = 10.0
    connect_retries: int = 2
    keepalive: int = 15

    @classmethod
    def from_hostvars(cls, name: str, hv: Mapping[str, Any]) -> SSHSettings:
        opts = parse_ssh_args(hv.get("ansible_ssh_common_args"))
        opts.update(parse_ssh_args(hv.get("ansible_ssh_extra_args")))
        port = hv.get("ansible_port", hv.get("ansible_ssh_port", opts.get("port")))
        keys = hv.get("ansible_ssh_private_key_file", hv.get("ansible_private_key_file")) or opts.get(
            "identityfile"
        )
        known = opts.get("userknownhostsfile")
        policy = str(hv.get("hostprep_host_key_policy", "") or "")
        if not policy:
            strict = opts.get("stricthostkeychecking", "").lower()
            policy = {"no": "off", "off": "off", "accept-new": "accept-new"}.get(strict, "strict")
        if policy not in HOST_KEY_POLICIES:
            raise InputError(
                f"host key policy {policy!r} is not one of {', '.join(HOST_KEY_POLICIES)}",
                key="hostprep_host_key_policy",
            )
        try:
            port_num = int(port) if port not in (None, "") else None
        except (TypeError, ValueError):
            raise InputError(f"port {port!r} of host {name} is not a number", key="ansible_port") from None
        return cls(
            name=name,
            host=str(hv.get("ansible_host", hv.get("ansible_ssh_host", name))),
            port=port_num,
            user=hv.get("ansible_user", hv.get("ansible_ssh_user", opts.get("user"))),
            key_files=[os.path.expanduser(str(k)) for k in ([keys] if isinstance(keys, str) else keys or [])],
            password=hv.get("ansible_password", hv.get("ansible_ssh_pass")),
            known_hosts=Path(os.path.expanduser(known)) if known and known != "/dev/null" else None,
            host_key_policy=policy if not (known == "/dev/null" and policy == "strict") else "strict",
            proxy_jump=opts.get("proxyjump"),
            ssh_config=opts.get("configfile"),
            connect_timeout=float(hv.get("ansible_ssh_timeout", hv.get("ansible_timeout", 10))),
        )


class SSHTransport:
    """A host reached over SSH, with one Fabric Connection reused by every command."""

    def __init__(self, settings: SSHSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.round_trips = 0
        self._conn: Connection | None = None
        self._sftp: paramiko.SFTPClient | None = None

    @classmethod
    def from_hostvars(cls, name: str, hostvars: Mapping[str, Any]) -> SSHTransport:
        return cls(SSHSettings.from_hostvars(name, hostvars))

    # -- connection --------------------------------------------------------------------
    def _make_connection(self) -> Connection:
        s = self.settings
        overrides: dict[str, Any] = {"load_ssh_configs": True}
        if s.ssh_config:
            overrides["ssh_config_path"] = os.path.expanduser(s.ssh_config)
        config = Config(overrides=overrides)
        connect_kwargs: dict[str, Any] = {"banner_timeout": s.connect_timeout, "auth_timeout": s.connect_timeout}
        if s.key_files:
            connect_kwargs.update(key_filename=s.key_files, look_for_keys=False)
        if s.password is not None:
            connect_kwargs["password"] = s.password
        gateway = None
        if s.proxy_jump:
            gateway = self._jump_chain(s.proxy_jump, config)
        conn = Connection(
            s.host, user=s.user, port=s.port, config=config, connect_timeout=s.connect_timeout,
            connect_kwargs=connect_kwargs, gateway=gateway,
        )
        self._secure_client(conn.client)
        return conn

    def _jump_chain(self, spec: str, config: Config) -> Connection:
        """A chain of gateway Connections for `ProxyJump a,b` (each hop checked the same way)."""
        gateway: Connection | None = None
        for hop in spec.split(","):
            user, _, hostport = hop.rpartition("@")
            host, _, port = hostport.partition(":")
            gateway = Connection(
                host, user=user or None, port=int(port) if port else None, config=config,
                connect_timeout=self.settings.connect_timeout, gateway=gateway,
                connect_kwargs={"key_filename": self.settings.key_files} if self.settings.key_files else {},
            )
            self._secure_client(gateway.client)
        assert gateway is not None
        return gateway

    def _secure_client(self, client: paramiko.SSHClient) -> None:
        s = self.settings
        if s.known_hosts is not None and s.known_hosts.exists():
            client.load_host_keys(str(s.known_hosts))
        elif s.known_hosts is None:
            default = Path("~/.ssh/known_hosts").expanduser()
            if default.exists():
                client.load_host_keys(str(default))
        # load_host_keys makes paramiko save to that file on connect only if we call save; we never do.
        client.set_missing_host_key_policy(
            _KnownHostsPolicy(s.host_key_policy, s.known_hosts or Path("~/.ssh/known_hosts").expanduser())
        )

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
                transport = conn.client.get_transport()
                if transport is not None and s.keepalive:
                    transport.set_keepalive(s.keepalive)
                self._conn = conn
                return conn
            except HostKeyError:
                conn.close()
                raise
            except paramiko.BadHostKeyException as exc:
                conn.close()
                raise HostKeyError(
                    f"host key for {s.host} CHANGED: known_hosts has {fingerprint(exc.expected_key)}, "
                    f"the host offers {fingerprint(exc.key)}; refusing to connect (possible "
                    f"man-in-the-middle). Remove the old key if the change is expected."
                ) from None
            except paramiko.AuthenticationException as exc:
                conn.close()
                raise UnreachableError(f"authentication failed for {s.user or ''}@{s.host}: {exc}") from None
            except (TimeoutError, OSError, paramiko.SSHException, EOFError) as exc:
                conn.close()
                last = exc
                if attempt < s.connect_retries:
                    time.sleep(0.5 * (attempt + 1))
        raise UnreachableError(f"cannot connect to {s.host}:{s.port or 22}: {last}")

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
        conn = self.connect()
        line = become_prefix(become, _PROMPT) + wrap_sh(command, env)
        payload = b""
        if become and become.enabled and become.password is not None:
            payload += become.password.encode() + b"\n"
        if stdin:
            payload += stdin
        self.round_trips += 1
        try:
            chan = conn.client.get_transport().open_session(timeout=self.settings.connect_timeout)
        except (paramiko.SSHException, OSError, EOFError, AttributeError) as exc:
            self._conn = None
            raise UnreachableError(f"connection to {self.settings.host} lost: {exc}") from None
        try:
            return self._exchange(chan, line, payload, timeout)
        finally:
            chan.close()

    def _exchange(self, chan: paramiko.Channel, line: str, payload: bytes, timeout: float | None) -> RunResult:
        chan.exec_command(line)
        out, err = bytearray(), bytearray()
        view = memoryview(payload)
        sent = 0
        if not payload:
            chan.shutdown_write()
        deadline = time.monotonic() + timeout if timeout else None
        try:
            while True:
                if sent < len(payload) and chan.send_ready():
                    sent += chan.send(view[sent : sent + 32768])
                    if sent >= len(payload):
                        chan.shutdown_write()
                while chan.recv_ready():
                    out += chan.recv(65536)
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                # done once the exit status and EOF arrived and nothing is left to read
                if (chan.exit_status_ready() and chan.eof_received
                        and not chan.recv_ready() and not chan.recv_stderr_ready()):
                    break
                if deadline and time.monotonic() > deadline:
                    raise TransportError(f"command timed out after {timeout}s on {self.name}")
                select.select([chan], [], [], 0.05 if sent < len(payload) else 0.2)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self._conn = None
            raise UnreachableError(f"connection to {self.settings.host} lost: {exc}") from None
        rc = chan.recv_exit_status()
        stderr = err.decode("utf-8", "replace").replace(_PROMPT, "")
        return RunResult(rc, out.decode("utf-8", "replace"), stderr)

    # -- files -------------------------------------------------------------------------
    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            self._sftp = self.connect().client.open_sftp()
        return self._sftp

    def put(
        self,
        data: bytes,
        dest: str,
        *,
        mode: str | None = None,
        owner: str | None = None,
        group: str | None = None,
        become: BecomeSpec | None = None,
    ) -> None:
        """Atomic write: temp file in dest's directory, mode/owner set, checksum verified, rename."""
        needs_shell = (become and become.enabled) or owner or group
        if needs_shell:
            put_via_shell(self, data, dest, mode=mode, owner=owner, group=group, become=become)
            return
        sftp = self.sftp()
        directory = os.path.dirname(dest) or "."
        tmp = f"{directory}/.hostprep-{os.urandom(6).hex()}"
        self.round_trips += 1
        try:
            with sftp.open(tmp, "wb") as handle:
                handle.set_pipelined(True)
                handle.write(data)
            if mode is not None:
                sftp.chmod(tmp, int(str(mode), 8) if isinstance(mode, str) else int(mode))
            else:
                try:
                    sftp.chmod(tmp, stat_mod.S_IMODE(sftp.stat(dest).st_mode or 0o644))
                except OSError:
                    sftp.chmod(tmp, 0o644)
            if sftp.stat(tmp).st_size != len(data):
                raise TransportError(f"upload of {dest} is incomplete")
            sftp.posix_rename(tmp, dest)
        except (OSError, paramiko.SSHException) as exc:
            try:
                sftp.remove(tmp)
            except OSError:
                pass
            if isinstance(exc, TransportError):
                raise
            raise TransportError(f"writing {dest} on {self.name} failed: {exc}") from None

    def get(self, path: str, *, become: BecomeSpec | None = None) -> bytes:
        if become and become.enabled:
            res = self.run(f"base64 < {shlex.quote(path)}", become=become)
            if res.rc != 0:
                raise TransportError(f"reading {path} on {self.name} failed: {res.stderr.strip()}")
            return base64.b64decode(res.stdout)
        self.round_trips += 1
        try:
            with self.sftp().open(path, "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise TransportError(f"reading {path} on {self.name} failed: {exc}") from None

    def close(self) -> None:
        if self._sftp is not None:
            try:
                self._sftp.close()
            except Exception:  # noqa: BLE001 - closing a dead channel must not mask the real error
                pass
            self._sftp = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
