"""Lab images: Debian root filesystems dressed as EL7/EL8/EL9 hosts, built offline and cached.

No CentOS mirror is reachable here, so an "EL host" is a Debian 12 userland with systemd,
sshd, sudo, and Debian's real dnf and rpm, whose os-release and release files say which EL
it emulates (and that it is an emulation). A base tree is made once with mmdebstrap; each
flavour is a copy of it with its own files. Both are cached under /var/cache/hostprep/images
keyed by a hash of their recipe (this file and the package list), so a second build is a
directory lookup and any change to the recipe rebuilds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from hostprep.errors import HostprepError
from hostprep.lab import paths

BASE_PACKAGES = [
    "systemd-sysv", "dbus", "openssh-server", "python3", "iproute2", "sudo", "dnf", "rpm",
    "dnf-plugins-core", "curl", "ca-certificates", "procps", "iptables", "gnupg", "less", "kmod",
    "passwd", "iputils-ping", "netcat-openbsd", "python3-pip", "python3-venv", "xz-utils", "file",
]

# flavour -> os-release fields and release file text
FLAVOR_INFO: dict[str, dict[str, str]] = {
    "el7": {"ID": "centos", "NAME": "CentOS Linux", "VERSION": "7 (Core)", "VERSION_ID": "7",
            "release": "CentOS Linux release 7.9.2009 (Core)"},
    "el8": {"ID": "centos", "NAME": "CentOS Stream", "VERSION": "8", "VERSION_ID": "8",
            "release": "CentOS Stream release 8"},
    "el9": {"ID": "centos", "NAME": "CentOS Stream", "VERSION": "9", "VERSION_ID": "9",
            "release": "CentOS Stream release 9"},
}

# units that only cost boot time or memory in a throwaway host
MASKED_UNITS = [
    "apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer", "fstrim.timer", "man-db.timer",
    "dpkg-db-backup.timer", "systemd-networkd-wait-online.service", "getty@tty1.service",
    "dnf-makecache.timer", "dnf-makecache.service", "systemd-timesyncd.service",
]

HOSTKEYS_UNIT = """[Unit]
Description=hostprep lab: this host's own SSH host keys, made on first boot
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
"""

CGROUPS_RW_UNIT = """[Unit]
Description=hostprep lab: writable v1 cgroup controllers (dockerd, hostprep-runtime)
DefaultDependencies=no
Before=sysinit.target
ConditionPathIsDirectory=/sys/fs/cgroup/memory

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'for d in /sys/fs/cgroup/*/; do case "$d" in */unified/|*/systemd/) continue;; esac; \\
  mount -o remount,bind,rw "$d" 2>/dev/null || true; done'

[Install]
WantedBy=sysinit.target
"""

SSHD_CONF = """# hostprep lab
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
"""

YUM_WRAPPER = """#!/bin/sh
# hostprep lab: yum is dnf here, as on EL8 and later
exec /usr/bin/dnf "$@"
"""

YUM_CONFIG_MANAGER = """#!/bin/sh
# hostprep lab: yum-config-manager (yum-utils) over dnf config-manager
exec /usr/bin/dnf config-manager "$@"
"""


def _recipe_hash(*parts: str) -> str:
    digest = hashlib.sha256()
    digest.update(Path(__file__).read_bytes())
    for part in parts:
        digest.update(part.encode())
    return digest.hexdigest()[:16]


def base_dir() -> Path:
    """Cache directory of the Debian base tree (keyed by the package list only)."""
    key = hashlib.sha256(" ".join(sorted(BASE_PACKAGES)).encode() + b"bookworm").hexdigest()[:16]
    return paths.IMAGES / f"base-{key}"


def image_dir(flavor: str) -> Path:
    """Cache directory of a flavour's image (keyed by the whole recipe)."""
    return paths.IMAGES / f"{flavor}-{_recipe_hash(flavor, ' '.join(BASE_PACKAGES))}"


def _run(cmd: list[str], **kw) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise HostprepError(f"{' '.join(cmd[:3])} ... failed ({proc.returncode}): {proc.stderr[-2000:]}")


def build_base(rebuild: bool = False) -> Path:
    """The Debian 12 base root filesystem (mmdebstrap, about 35 s, then cached)."""
    target = base_dir()
    if (target / "rootfs" / "usr" / "bin" / "dnf").exists() and not rebuild:
        return target / "rootfs"
    paths.IMAGES.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".base-", dir=paths.IMAGES))
    try:
        _run(["mmdebstrap", "--variant=apt", "--mode=root", "--quiet",
              "--include=" + ",".join(BASE_PACKAGES), "bookworm", str(tmp / "rootfs")])
        _publish(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target / "rootfs"


def _publish(tmp: Path, target: Path) -> None:
    """Move a finished tree into its cache place (replacing an old one), so readers never see half a tree."""
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)


def _write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        path.unlink()
    path.write_text(text)
    os.chmod(path, mode)


def customize(root: Path, flavor: str) -> None:
    """Turn a Debian tree into a lab host of `flavor` (files only; no service runs here)."""
    if flavor in FLAVOR_INFO:
        info = FLAVOR_INFO[flavor]
        major = info["VERSION_ID"]
        _write(root, "/etc/os-release", "\n".join([
            f'NAME="{info["NAME"]}"', f'VERSION="{info["VERSION"]}"', f'ID="{info["ID"]}"',
            'ID_LIKE="rhel centos fedora"', f'VERSION_ID="{major}"', f'PLATFORM_ID="platform:el{major}"',
            f'PRETTY_NAME="{info["NAME"]} {major} (hostprep lab emulation on Debian 12)"',
            'ANSI_COLOR="0;31"', f'CPE_NAME="cpe:/o:centos:centos:{major}"',
            'HOME_URL="https://hostprep.invalid/lab"', "",
        ]))
        (root / "usr/lib/os-release").unlink(missing_ok=True)
        _write(root, "/etc/centos-release", info["release"] + "\n")
        _write(root, "/etc/redhat-release", info["release"] + "\n")
        _write(root, "/etc/system-release", info["release"] + "\n")
        _write(root, "/etc/dnf/vars/releasever", major + "\n")
        _write(root, "/etc/yum/vars/releasever", major + "\n")
        _write(root, "/etc/dnf/dnf.conf", "\n".join([
            "[main]", "gpgcheck=1", "installonly_limit=3", "clean_requirements_on_remove=True",
            "best=True", "skip_if_unavailable=0", "keepcache=0", "",
        ]))
        _write(root, "/etc/dnf/plugins/local.conf", "[main]\nenabled=0\n")
        (root / "etc/yum.repos.d").mkdir(parents=True, exist_ok=True)
        _write(root, "/etc/yum.repos.d/hostprep-lab-base.repo", "\n".join([
            "[lab-base]", "name=hostprep lab base - EL$releasever $basearch",
            f"baseurl={paths.REPO_URL}/el/$releasever/base/$basearch/",
            "enabled=1", "gpgcheck=1", f"gpgkey={paths.REPO_URL}/RPM-GPG-KEY-hostprep-lab",
            "skip_if_unavailable=0", "",
        ]))
        _write(root, "/usr/bin/yum", YUM_WRAPPER, 0o755)
        if flavor == "el7":
            _write(root, "/usr/bin/yum-config-manager", YUM_CONFIG_MANAGER, 0o755)
    # EL hosts let pip install into the system Python; Debian's PEP 668 marker would refuse it
    for marker in (root / "usr/lib").glob("python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    _write(root, "/etc/fstab", "# hostprep lab: no disks\n")
    _write(root, "/etc/ssh/sshd_config.d/hostprep-lab.conf", SSHD_CONF)
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    _write(root, "/etc/systemd/system/hostprep-lab-hostkeys.service", HOSTKEYS_UNIT)
    _write(root, "/etc/systemd/system/hostprep-lab-cgroups-rw.service", CGROUPS_RW_UNIT)
    _write(root, "/etc/resolv.conf", "# hostprep lab: no name server (hosts are offline)\n")
    _write(root, "/etc/sudoers.d/deploy", "deploy ALL=(ALL:ALL) ALL\n", 0o440)
    (root / "etc/machine-id").write_text("")
    _run(["systemctl", f"--root={root}", "enable", "hostprep-lab-hostkeys.service",
          "hostprep-lab-cgroups-rw.service", "ssh.service"])
    _run(["systemctl", f"--root={root}", "mask", *MASKED_UNITS])
    if "\nwheel:" not in "\n" + (root / "etc/group").read_text():
        _run(["chroot", str(root), "groupadd", "-r", "wheel"])  # EL's admin group
    passwd = root / "etc/passwd"
    if ":deploy:" not in passwd.read_text() and "\ndeploy:" not in passwd.read_text():
        _run(["chroot", str(root), "useradd", "-m", "-s", "/bin/bash", "-U", "deploy"])


def build_image(flavor: str, rebuild: bool = False) -> Path:
    """The cached root filesystem of `flavor`, built if missing (or when `rebuild`)."""
    if flavor not in paths.FLAVORS:
        raise HostprepError(f"unknown lab flavour {flavor!r} (one of {', '.join(paths.FLAVORS)})")
    target = image_dir(flavor)
    if (target / "rootfs" / "etc" / "os-release").exists() and not rebuild:
        return target / "rootfs"
    base = build_base(rebuild=rebuild)
    tmp = Path(tempfile.mkdtemp(prefix=f".{flavor}-", dir=paths.IMAGES))
    try:
        _run(["cp", "-a", "--reflink=auto", str(base), str(tmp / "rootfs")])
        customize(tmp / "rootfs", flavor)
        _publish(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target / "rootfs"


def import_image(tar_path: Path, name: str) -> Path:
    """Use a user-supplied root filesystem tar (a real EL image) as flavour `name`."""
    target = paths.IMAGES / f"user-{name}"
    paths.IMAGES.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".user-{name}-", dir=paths.IMAGES))
    try:
        with tarfile.open(tar_path) as tar:
            for member in tar.getmembers():
                if member.name.startswith("/") or ".." in Path(member.name).parts:
                    raise HostprepError(f"{tar_path}: entry {member.name!r} would land outside the root")
            tar.extractall(tmp / "rootfs", filter="tar" if hasattr(tarfile, "tar_filter") else None)
        customize(tmp / "rootfs", name)
        _publish(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target / "rootfs"


def resolve_image(flavor: str) -> Path:
    """The rootfs for `flavor`: a user image of that name if one was imported, else the built one."""
    user = paths.IMAGES / f"user-{flavor}" / "rootfs"
    if user.exists():
        return user
    return build_image(flavor)
