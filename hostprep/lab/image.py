"""Lab images: Debian root filesystems dressed as EL7/EL8/EL9 hosts, built offline and cached.

No CentOS mirror is reachable here, so an "EL host" is a Debian 12 userland with systemd,
sshd, sudo, and Debian's real dnf and rpm, whose os-release and release files say which EL
it emulates (and that it is an emulation). A base tree is made once with mmdebstrap; each
flavour is a copy of it with its own files. Both are cached under /var/cache/hostprep/images
keyed by a hash of their recipe (this file, the package list and the lab repository's recipe), so a
second build is a directory lookup and any change to the recipe rebuilds.

EL flavours then get what a minimal install of their release has in its RPM database: the base set's
marker RPMs and the release's real Python (packages/baseset.py, packages/pythons.py), installed
with `rpm --root` from the lab repository. Debian's own python3 (which runs dnf, the yum wrapper
and firewalld) moves to a private path, LAB_PYTHON, so `python3` on a host means what it means on
that release, and changing or removing it never breaks the package manager.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from hostprep.errors import HostprepError
from hostprep.lab import paths
from hostprep.lab.packages import baseset, pythons

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

# Debian's interpreter, moved out of PATH (the lab's tools keep it; the host's python3 is EL's)
DEBIAN_PYTHON = "usr/bin/python3.11"
# Debian's commands that would otherwise answer for a Python EL does not have
DEBIAN_PYTHON_COMMANDS = ("python3", "python3.11", "pip", "pip3", "pip3.11", "pydoc3", "pydoc3.11",
                          "pygettext3", "pygettext3.11")
SHEBANG_DIRS = ("usr/bin", "usr/sbin", "usr/libexec")


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
    """Cache directory of a flavour's image (keyed by the whole recipe, EL ones also by the repository's)."""
    parts = [flavor, " ".join(BASE_PACKAGES)]
    if flavor in FLAVOR_INFO:
        from hostprep.lab import repo  # the repository module imports the package catalog; only EL needs it

        parts.append(repo.recipe_hash())
    return paths.IMAGES / f"{flavor}-{_recipe_hash(*parts)}"


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
        if (root / DEBIAN_PYTHON).exists() or (root / pythons.LAB_PYTHON.lstrip("/")).exists():
            privatize_debian_python(root)  # a lab-built (Debian) tree, not an imported real EL image
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


def privatize_debian_python(root: Path) -> None:
    """Move Debian's python3 to LAB_PYTHON and point the lab's Python programs (dnf, ...) at it.

    Its standard library and dist-packages stay where they are: CPython finds them from the
    build-time prefix (/usr) when the binary moves.
    """
    private = root / pythons.LAB_PYTHON.lstrip("/")
    private.parent.mkdir(parents=True, exist_ok=True)
    debian = root / DEBIAN_PYTHON
    if debian.exists() and not debian.is_symlink():
        debian.rename(private)
    if not private.exists():
        raise HostprepError(f"{root}: Debian's python3 ({DEBIAN_PYTHON}) is missing from the base image")
    for name in DEBIAN_PYTHON_COMMANDS:
        (root / "usr/bin" / name).unlink(missing_ok=True)
    for directory in SHEBANG_DIRS:
        for path in (root / directory).iterdir():
            if path.is_symlink() or not path.is_file():
                continue
            with open(path, "rb") as f:
                head = f.readline(200)
            if head.startswith(b"#!") and b"python3" in head:
                rest = path.read_bytes()[len(head):]
                path.write_bytes(f"#!{pythons.LAB_PYTHON}\n".encode() + rest)


def install_base_rpms(root: Path, flavor: str) -> None:
    """Install the release's base set and Python RPMs into the image's RPM database (rpm --root)."""
    from hostprep.lab import repo

    rel = FLAVOR_INFO[flavor]["VERSION_ID"]
    tree = repo.build_repo()
    packages_dir = tree / "el" / rel / "base" / "x86_64" / "Packages"
    listed = subprocess.run(["rpm", "-qp", "--nosignature", "--qf", "%{NAME} ", *map(str, sorted(
        packages_dir.glob("*.rpm")))], capture_output=True, text=True, check=True).stdout.split()
    by_name = dict(zip(listed, sorted(packages_dir.glob("*.rpm")), strict=True))
    wanted = [*baseset.installed(rel), *pythons.INSTALLED[rel]]
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise HostprepError(f"lab repository {tree} lacks the EL{rel} base packages {', '.join(missing)}")
    _run(["rpm", f"--root={root}", "--import", str(tree / "RPM-GPG-KEY-hostprep-lab")])
    _run(["rpm", f"--root={root}", "-i", "--quiet", *(str(by_name[n]) for n in wanted)])


def build_image(flavor: str, rebuild: bool = False) -> Path:
    """The cached root filesystem of `flavor`, built if missing (or when `rebuild`)."""
    if flavor not in paths.FLAVORS:
        raise HostprepError(f"unknown lab flavour {flavor!r} (one of {', '.join(paths.FLAVORS)})")
    target = image_dir(flavor)
    if (target / "rootfs" / "etc" / "os-release").exists() and not rebuild:
        return target / "rootfs"
    paths.IMAGES.mkdir(parents=True, exist_ok=True)
    with open(paths.IMAGES / f".{flavor}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder per flavour; hosts may run on the published tree
        if (target / "rootfs" / "etc" / "os-release").exists() and not rebuild:
            return target / "rootfs"
        return _build_image_locked(flavor, target, rebuild)


def _build_image_locked(flavor: str, target: Path, rebuild: bool) -> Path:
    base = build_base(rebuild=rebuild)
    tmp = Path(tempfile.mkdtemp(prefix=f".{flavor}-", dir=paths.IMAGES))
    try:
        _run(["cp", "-a", "--reflink=auto", str(base), str(tmp / "rootfs")])
        customize(tmp / "rootfs", flavor)
        if flavor in FLAVOR_INFO:
            install_base_rpms(tmp / "rootfs", flavor)
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
