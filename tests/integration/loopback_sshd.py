"""A throwaway sshd on 127.0.0.1 for transport tests: own config, keys and port, stopped by pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LoopbackSshd:
    """A running sshd process and the files a client needs to reach it."""

    port: int
    client_key: Path
    known_hosts: Path
    host_pub: str
    proc: subprocess.Popen

    def hostvars(self, **extra: object) -> dict:
        hv = {
            "ansible_host": "127.0.0.1",
            "ansible_port": self.port,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(self.client_key),
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={self.known_hosts} -o StrictHostKeyChecking=yes",
        }
        hv.update(extra)
        return hv

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_sshd(workdir: Path, *, address: str = "127.0.0.1", netns: str | None = None,
               client_key: Path | None = None, extra_config: tuple[str, ...] = (),
               log_file: Path | None = None, wrapper: tuple[str, ...] = ()) -> LoopbackSshd:
    """Start sshd in the foreground (-D) on a free port with keys under `workdir`.

    `netns`: run it inside that network namespace (`ip netns exec`); `client_key`: accept that
    key (else a new one is made); `log_file`: sshd's log (-E), at DEBUG level; `wrapper`: a
    command that execs its arguments (e.g. `unshare -m` plus bind mounts), so that the process
    started is still sshd itself.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    host_key = workdir / "ssh_host_ed25519_key"
    keys = [host_key] if client_key else [host_key, workdir / "id_ed25519"]
    client_key = client_key or workdir / "id_ed25519"
    for key in keys:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    auth = workdir / "authorized_keys"
    auth.write_text(Path(f"{client_key}.pub").read_text())
    os.chmod(auth, 0o600)
    port = free_port()
    config = workdir / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                f"ListenAddress {address}",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {auth}",
                f"PidFile {workdir / 'sshd.pid'}",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "Subsystem sftp internal-sftp",
                *(["LogLevel DEBUG1"] if log_file else []),
                *extra_config,
                "",
            ]
        )
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    prefix = (["ip", "netns", "exec", netns] if netns else []) + list(wrapper)
    logging = ["-E", str(log_file)] if log_file else ["-e"]
    proc = subprocess.Popen(
        [*prefix, "/usr/sbin/sshd", "-D", *logging, "-f", str(config)], stderr=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    host_pub = (workdir / "ssh_host_ed25519_key.pub").read_text().split()
    known = workdir / "known_hosts"
    known.write_text(f"[{address}]:{port} {host_pub[0]} {host_pub[1]}\n")
    deadline = time.monotonic() + 10
    probe = f"import socket; s=socket.create_connection(({address!r}, {port}), timeout=0.5); assert s.recv(4)"
    while time.monotonic() < deadline:
        if netns:
            if subprocess.run([*prefix, sys.executable, "-c", probe], capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
            continue
        try:
            with socket.create_connection((address, port), timeout=0.5) as sock:
                if sock.recv(4).startswith(b"SSH-"):
                    break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        proc.wait(5)
        raise RuntimeError("loopback sshd did not start")
    return LoopbackSshd(port, client_key, known, f"{host_pub[0]} {host_pub[1]}", proc)


@contextmanager
def running_sshd(workdir: Path, **options) -> Iterator[LoopbackSshd]:
    """A loopback sshd for the length of a with-block (the tests' fixtures), stopped by its own pid however
    the block ends."""
    server = start_sshd(workdir, **options)
    try:
        yield server
    finally:
        server.stop()
