"""The lab's Docker RPMs on a real el9 lab host: dnf install with gpgcheck=1, a running engine, a container.

This is the end-to-end proof that the packages are right: the .repo file, key import, the docker
group from the Lua %pre, the systemd units, and the Debian binaries working together under systemd.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from hostprep.lab import paths

BUSYBOX = Path("/bin/busybox")


def ssh(host, cmd: str, stdin: bytes | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-i", str(paths.KEY), "-o", f"UserKnownHostsFile={paths.KNOWN_HOSTS}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", f"root@{host.address}", cmd],
        capture_output=True, input=stdin, timeout=timeout,
    )


def _busybox_rootfs_tar() -> bytes:
    """A minimal rootfs (Debian's busybox-static as /bin/busybox plus an `sh` link) as a tar stream."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(BUSYBOX), arcname="bin/busybox")
        link = tarfile.TarInfo("bin/sh")
        link.type = tarfile.SYMTYPE
        link.linkname = "busybox"
        tar.addfile(link)
    return buf.getvalue()


def test_el9_host_installs_docker_from_the_lab_repo_and_runs_a_container(lab) -> None:
    (h,) = lab.up(1, "el9", "repodock")
    res = ssh(h, f"curl -fsS -o /etc/yum.repos.d/docker-ce.repo {paths.REPO_URL}/linux/centos/docker-ce.repo && "
                 "dnf -y -q install docker-ce docker-ce-cli containerd.io docker-compose-plugin && "
                 "rpm -q --qf '%{NAME}-%{VERSION}\\n' docker-ce && getent group docker")
    out = res.stdout.decode()
    assert res.returncode == 0, out + res.stderr.decode()
    assert "docker-ce-26.1.4" in out and out.splitlines()[-1].startswith("docker:")
    res = ssh(h, "systemctl start docker && systemctl is-active docker && "
                 "docker info --format '{{.ServerVersion}} {{.Driver}}' && docker compose version")
    out = res.stdout.decode()
    assert res.returncode == 0, out + res.stderr.decode()
    assert out.splitlines()[0] == "active" and "Docker Compose version" in out, out
    res = ssh(h, "docker import - lab/busybox:1 >/dev/null && docker run --rm lab/busybox:1 /bin/busybox echo "
                 "hello-from-lab-container", stdin=_busybox_rootfs_tar())
    assert res.returncode == 0, res.stdout.decode() + res.stderr.decode()
    assert res.stdout.decode().strip() == "hello-from-lab-container"
    # the pin changes the engine, not only the RPM metadata: 26.1.4 is trixie's 26.1.5, 24.0.7 bookworm's 20.10
    versions = "docker version --format '{{.Client.Version}} {{.Server.Version}}'"
    assert ssh(h, versions).stdout.decode().split() == ["26.1.5+dfsg1", "26.1.5+dfsg1"]
    res = ssh(h, "dnf -y -q downgrade docker-ce-3:24.0.7 docker-ce-cli-1:24.0.7 && systemctl restart docker && "
                 + versions)
    assert res.returncode == 0, res.stdout.decode() + res.stderr.decode()
    assert res.stdout.decode().split()[-2:] == ["20.10.24+dfsg1", "20.10.24+dfsg1"]
    res = ssh(h, "docker run --rm lab/busybox:1 /bin/busybox echo still-runs")
    assert res.stdout.decode().strip() == "still-runs", res.stderr.decode()
    lab.down("repodock")
