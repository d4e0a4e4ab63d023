"""Helpers shared by the runtime tests: the interpreters they run under and a busybox root filesystem."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from hostprep.runtime import cgroups

ROOT = Path(__file__).resolve().parents[2]
BUSYBOX = "/bin/busybox"


def python39() -> str:
    for candidate in [*sorted(glob.glob("/root/.pyenv/versions/3.9.*/bin/python3.9")), shutil.which("python3.9"),
                      "/usr/bin/python3.9"]:
        if candidate and os.path.exists(candidate) and subprocess.run(
                [candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 9)"],
                capture_output=True).returncode == 0:
            return candidate
    raise RuntimeError("python3.9 is needed to check that hostprep-runtime runs on Python 3.9")


def busybox_rootfs_tar(base: Path) -> Path:
    """A busybox-static root filesystem with a root and an `app` user, as a tar."""
    if not os.path.exists(BUSYBOX) or b"statically linked" not in subprocess.run(
            ["file", "-L", BUSYBOX], capture_output=True).stdout:
        raise RuntimeError("Debian's busybox-static is needed (apt-get install busybox-static)")
    rootfs = base / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy(BUSYBOX, rootfs / "bin/busybox")
    subprocess.run([str(rootfs / "bin/busybox"), "--install", "-s", str(rootfs / "bin")], check=True)
    for link in (rootfs / "bin").iterdir():  # make the links relative to the container's root
        if link.is_symlink():
            link.unlink()
            link.symlink_to("busybox")
    (rootfs / "etc").mkdir()
    (rootfs / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n")
    (rootfs / "etc/group").write_text("root:x:0:\napp:x:1000:\n")
    for d in ("tmp", "root", "home/app", "mnt", "data"):
        (rootfs / d).mkdir(parents=True)
    tar = base / "busybox.tar"
    with tarfile.open(tar, "w") as t:
        t.add(rootfs, arcname=".")
    return tar


def container_cgroups() -> set[str]:
    """Every per-container cgroup of hostprep-runtime on this machine (v1 hierarchies and v2)."""
    return cgroups.existing()
