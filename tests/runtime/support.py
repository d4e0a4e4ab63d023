"""Helpers shared by the runtime tests: the interpreters they run under and a busybox root filesystem."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from hostprep.runtime import cgroups

ROOT = Path(__file__).resolve().parents[2]
BUSYBOX = "/bin/busybox"


PYENV_HINT = {"3.6": "pyenv install 3.6.15 (EL7/EL8 system Python)", "3.9": "pyenv install 3.9.18 (EL9)"}


def interpreter(version: str) -> str:
    """A Python `version` ("3.6", "3.9") to run the runtime under: hosts run it with their system Python."""
    candidates = sorted(glob.glob(f"/root/.pyenv/versions/{version}.*/bin/python{version}"))
    candidates += [shutil.which(f"python{version}"), f"/usr/bin/python{version}"]
    for candidate in candidates:
        if candidate and os.path.exists(candidate) and subprocess.run(
                [candidate, "-c", f"import sys; assert sys.version_info[:2] == ({version.replace('.', ', ')})"],
                capture_output=True).returncode == 0:
            return candidate
    how = PYENV_HINT.get(version, "pyenv install " + version)
    raise RuntimeError(f"python{version} is needed to check that hostprep-runtime runs on Python {version}: "
                       f"{how}, or install it as /usr/bin/python{version}")


def python39() -> str:
    return interpreter("3.9")


def python36() -> str:
    return interpreter("3.6")


# the interpreters every container test runs under: the control node's and the hosts' system Pythons
# (HOSTPREP_RUNTIME_TEST_PYTHONS narrows them, e.g. "control,python3.6" for the suite inside the v2 VM)
PYTHONS = os.environ.get("HOSTPREP_RUNTIME_TEST_PYTHONS", "control,python3.9,python3.6").split(",")
if not set(PYTHONS) <= {"control", "python3.9", "python3.6"}:
    raise RuntimeError(f"HOSTPREP_RUNTIME_TEST_PYTHONS: unknown interpreter in {PYTHONS}")


def python_for(param: str) -> str:
    return sys.executable if param == "control" else interpreter(param[len("python"):])


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
    for link in ("lib", "lib64"):  # the host's /usr mounted read-only (HOST_PYTHON) brings a whole Python
        (rootfs / link).symlink_to("usr/" + link)
    tar = base / "busybox.tar"
    with tarfile.open(tar, "w") as t:
        t.add(rootfs, arcname=".")
    return tar


# options and program of a container that runs the host's Python (an attacker's toolbox: ctypes, fcntl, ...)
HOST_PYTHON = ["-v", "/usr:/usr:ro"]
PYTHON_IN_CONTAINER = "/usr/bin/python3"


def runtime_argv(rt, *args: str) -> list[str]:
    """The command line `rt(*args)` runs, for tests that start the CLI themselves (descriptors, terminals)."""
    return [rt.python, "-m", "hostprep.runtime", *args]


def container_cgroups() -> set[str]:
    """Every per-container cgroup of hostprep-runtime on this machine (v1 hierarchies and v2)."""
    return cgroups.existing()
