"""Host keys, checked like OpenSSH does: on the target and on every ProxyJump hop.

Fabric's default policy (accept and add any key) is replaced on every client of a chain: only
the known_hosts files the settings (or ssh_config) name count. An unknown key is refused with
its fingerprint unless the policy is `accept-new` (recorded under a lock, one appended line) or
`off` (warned about once per run); a changed key is refused under every policy (paramiko
raises BadHostKeyException for it, which the connection turns into `changed_key_error`).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import paramiko

from hostprep.errors import HostKeyError, InputError
from hostprep.transport.options import warn_host_key_checking_off
from hostprep.transport.settings import SSHSettings, policy_from_word

if TYPE_CHECKING:
    from fabric import Connection

_LOCK = threading.Lock()


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style SHA256 fingerprint of a public key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


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
    with _LOCK:
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


def changed_key_error(where: str, expected: paramiko.PKey, offered: paramiko.PKey) -> HostKeyError:
    """The error for a host whose key differs from the one known_hosts lists (refused under every policy)."""
    return HostKeyError(
        f"host key for {where} CHANGED: known_hosts has {fingerprint(expected)}, the host offers "
        f"{fingerprint(offered)}; refusing to connect (possible man-in-the-middle). Remove the old key if "
        "the change is expected."
    )


# what to change to accept a new key, by the setting that decided the strict policy (a host's variables
# win over --host-key-policy, which wins over ssh_config: the advice names the one that counts)
POLICY_ADVICE = {
    "host": "set the host's policy (the host's variables decided it: hostprep_host_key_policy, "
            "ansible_host_key_checking or StrictHostKeyChecking in ansible_ssh_common_args win over "
            "--host-key-policy) to accept-new",
    "cli": "use --host-key-policy accept-new (--host-key-policy strict decided it)",
    "ssh_config": "use --host-key-policy accept-new (StrictHostKeyChecking in ssh_config decided it)",
    "default": "use --host-key-policy accept-new",
}


class KnownHostsPolicy(paramiko.MissingHostKeyPolicy):
    """Decide on a key that known_hosts does not list (paramiko itself refuses changed keys)."""

    def __init__(self, policy: str, record_to: Path, where: str, hashed: bool = False,
                 source: str = "default") -> None:
        self.policy = policy
        self.source = source  # which setting decided the policy: "host", "cli", "ssh_config" or "default"
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
            f"add it to {self.record_to} or {POLICY_ADVICE.get(self.source, POLICY_ADVICE['default'])}"
        )


def effective_policy(settings: SSHSettings, conn: Connection) -> str:
    """The host's or the command line's policy; else ssh_config's StrictHostKeyChecking; else strict."""
    if settings.host_key_policy_source != "default":
        return settings.host_key_policy
    word = conn.ssh_config.get("stricthostkeychecking")
    return policy_from_word(word, "StrictHostKeyChecking") if word else "strict"


def known_hosts_files(settings: SSHSettings, conn: Connection) -> list[Path]:
    """The user's known_hosts files for one hop: the settings', else ssh_config's, else OpenSSH's defaults."""
    if settings.known_hosts_files:
        return settings.known_hosts_files
    if conn.ssh_config.get("userknownhostsfile"):
        return [Path(os.path.expanduser(p)) for p in str(conn.ssh_config["userknownhostsfile"]).split()]
    return [Path("~/.ssh/known_hosts").expanduser(), Path("~/.ssh/known_hosts2").expanduser()]


def secure_client(settings: SSHSettings, conn: Connection) -> None:
    """Give one connection of a chain a private key store (only these files count) and the policy."""
    client = conn.client
    files = known_hosts_files(settings, conn)
    global_files = str(conn.ssh_config.get("globalknownhostsfile", "/etc/ssh/ssh_known_hosts")).split()
    client._system_host_keys = paramiko.HostKeys()  # noqa: SLF001 - paramiko has no public reset
    for path in [*files, *(Path(p) for p in global_files)]:
        if str(path) != os.devnull and path.is_file():
            try:
                client.load_system_host_keys(str(path))
            except (OSError, paramiko.SSHException) as exc:
                raise InputError(f"cannot read known_hosts file {path}: {exc}") from None
    policy = effective_policy(settings, conn)
    if policy == "off":
        warn_host_key_checking_off(f"first for {conn.original_host}")
    hashed = str(conn.ssh_config.get("hashknownhosts", "no")).lower() == "yes"
    source = settings.host_key_policy_source
    if source == "default" and conn.ssh_config.get("stricthostkeychecking"):
        source = "ssh_config"
    client.set_missing_host_key_policy(KnownHostsPolicy(policy, files[0], conn.original_host, hashed, source))
