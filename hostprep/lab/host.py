"""One lab host: an overlay root over a cached image, a netns, a cgroup, systemd-nspawn.

Everything a host creates is recorded in its meta.json (addresses, link and namespace names,
supervisor pid) so that `destroy` removes exactly what `boot` made, by those ids.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from hostprep.errors import HostprepError
from hostprep.lab import cgroups, network, paths
from hostprep.runtime.procinfo import alive


@dataclass
class HostRecord:
    """What the lab knows about a running host (persisted as meta.json)."""

    name: str
    flavor: str
    index: int
    address: str
    netns: str
    veth: str
    image: str
    deploy_password: str
    supervisor_pid: int = 0
    host_key: str = ""

    @property
    def dir(self) -> Path:
        return paths.HOSTS / self.name

    @property
    def merged(self) -> Path:
        return self.dir / "merged"

    def save(self) -> None:
        tmp = self.dir / "meta.json.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(self.dir / "meta.json")

    @classmethod
    def load(cls, name: str) -> HostRecord:
        return cls(**json.loads((paths.HOSTS / name / "meta.json").read_text()))


def all_records() -> list[HostRecord]:
    if not paths.HOSTS.exists():
        return []
    out = []
    for meta in sorted(paths.HOSTS.glob("*/meta.json")):
        try:
            out.append(HostRecord.load(meta.parent.name))
        except (OSError, ValueError, TypeError):
            continue
    return out


def ensure_key() -> Path:
    """The lab's SSH client key (made once)."""
    if not paths.KEY.exists():
        paths.STATE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hostprep-lab", "-f", str(paths.KEY)],
                       check=True)
    return paths.KEY


def _is_mounted(path: Path) -> bool:
    target = str(path)
    return any(line.split()[4] == target for line in Path("/proc/self/mountinfo").read_text().splitlines())


def _prepare_root(rec: HostRecord) -> None:
    for sub in ("upper", "work", "merged", "docker-data", "runtime-data"):
        (rec.dir / sub).mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={rec.image},upperdir={rec.dir / 'upper'},workdir={rec.dir / 'work'}",
                    str(rec.merged)], check=True, capture_output=True)
    root = rec.merged
    (root / "etc/hostname").write_text(rec.name + "\n")
    (root / "etc/hosts").write_text(
        f"127.0.0.1\tlocalhost\n127.0.1.1\t{rec.name}\n{rec.address}\t{rec.name}\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
    )
    pub = ensure_key().with_suffix(".pub").read_text()
    for home, owner in (("root", None), ("home/deploy", "deploy")):
        ssh_dir = root / home / ".ssh"
        ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (ssh_dir / "authorized_keys").write_text(pub)
        os.chmod(ssh_dir / "authorized_keys", 0o600)
        if owner:
            subprocess.run(["chroot", str(root), "chown", "-R", f"{owner}:{owner}", f"/{home}/.ssh"], check=True)
    subprocess.run(["chpasswd", "-R", str(root)], input=f"deploy:{rec.deploy_password}\n", text=True,
                   check=True, capture_output=True)


def nspawn_command(rec: HostRecord) -> list[str]:
    """The systemd-nspawn line for a host (see hostprep/lab/README.md for why each flag)."""
    return [
        "systemd-nspawn", "--quiet", "--boot", f"--directory={rec.merged}", f"--machine={rec.name}",
        "--register=no", "--keep-unit", f"--network-namespace-path=/run/netns/{rec.netns}",
        "--resolv-conf=off", "--timezone=off", "--link-journal=no", "--console=passive",
        "--system-call-filter=add_key keyctl bpf",
        # dockerd manages iptables and bridges in the host's own network namespace
        "--capability=CAP_NET_ADMIN",
        # overlay2 cannot use the overlay root as its upper layer: give /var/lib/docker a real directory
        f"--bind={rec.dir / 'docker-data'}:/var/lib/docker",
        # the same for hostprep-runtime, whose containers' upper layers live in its state directory
        f"--bind={rec.dir / 'runtime-data'}:/var/lib/hostprep-runtime",
    ]


def _wait_ssh(rec: HostRecord, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    key = rec.dir / "upper/etc/ssh/ssh_host_ed25519_key.pub"
    while time.monotonic() < deadline:
        if not alive(rec.supervisor_pid):
            log = (rec.dir / "console.log").read_text(errors="replace")[-2000:]
            raise HostprepError(f"lab host {rec.name} stopped while booting:\n{log}")
        if key.exists():
            try:
                with socket.create_connection((rec.address, 22), timeout=0.5) as sock:
                    sock.settimeout(2)
                    if sock.recv(64).startswith(b"SSH-"):
                        rec.host_key = " ".join(key.read_text().split()[:2])
                        return
            except OSError:
                pass
        time.sleep(0.1)
    raise HostprepError(f"lab host {rec.name} did not answer SSH within {timeout:.0f}s")


def boot(rec: HostRecord, timeout: float = 60.0) -> HostRecord:
    """Boot a recorded host and wait until SSH answers; on failure, remove what was made."""
    rec.dir.mkdir(parents=True, exist_ok=True)
    rec.save()
    try:
        _prepare_root(rec)
        network.create_host_link(rec.netns, rec.veth, rec.address)
        cgroups.create(rec.name)
        log = open(rec.dir / "console.log", "ab")  # noqa: SIM115 - handed to the detached supervisor
        proc = subprocess.Popen(
            [sys.executable, "-m", "hostprep.lab.supervisor", rec.name, "--", *nspawn_command(rec)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env=dict(os.environ, HOSTPREP_LAB_BOOTS=str(rec.dir / "boots")),
        )
        log.close()
        rec.supervisor_pid = proc.pid
        rec.save()
        _wait_ssh(rec, timeout)
        rec.save()
        return rec
    except BaseException:
        destroy(rec)
        raise


def destroy(rec: HostRecord) -> list[str]:
    """Remove everything of a host: processes, mounts, netns, link, cgroups, files. Returns leftovers."""
    left: list[str] = []
    if alive(rec.supervisor_pid):
        try:
            os.kill(rec.supervisor_pid, 9)
        except ProcessLookupError:
            pass
    cgroups.kill_all(rec.name)
    # reap our own child if the supervisor was started by this process
    try:
        os.waitpid(rec.supervisor_pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass
    for _ in range(50):
        if not _is_mounted(rec.merged):
            break
        subprocess.run(["umount", str(rec.merged)], capture_output=True)
        if _is_mounted(rec.merged):
            time.sleep(0.05)
    if _is_mounted(rec.merged):
        subprocess.run(["umount", "-l", str(rec.merged)], capture_output=True)
        left.append(f"mount {rec.merged} (lazily detached)")
    network.delete_host_link(rec.netns, rec.veth)
    left += [f"cgroup {p}" for p in cgroups.remove(rec.name)]
    if not _is_mounted(rec.merged):
        shutil.rmtree(rec.dir, ignore_errors=True)
    return left


def new_record(name: str, flavor: str, index: int, image: Path) -> HostRecord:
    return HostRecord(
        name=name, flavor=flavor, index=index, address=network.address_for(index),
        netns=f"{paths.NETNS_PREFIX}{name}"[:60], veth=f"{paths.VETH_PREFIX}{index}",
        image=str(image), deploy_password=secrets.token_urlsafe(12),
    )
