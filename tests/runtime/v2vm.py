"""The whole tests/runtime suite inside a pure cgroup v2 lab VM (test_cgroup_v2_vm.py runs it).

What the suite needs beside the EL9 lab image goes into a lab image of its own, `hvrt-<recipe hash>` (a user
image under /var/cache/hostprep/images, booted by the lab's vm backend, whose base disk is cached under
/var/cache/hostprep/vm): the EL9 image plus the peers the runtime tests compare against (ci/apt/runtime.txt:
podman, buildah, skopeo, docker-registry, runc, ...; ci/apt/runtime-net.txt: nft and iptables), installed with
apt-get in a chroot, podman configured as ci/prep.d/50-runtime-peers.sh configures it here; and the Pythons
the suite runs under -- the control node's (this process's interpreter and its virtualenv, as /opt/hpvenv) and
3.6 (the EL9 image has its own 3.9).
The recipe hash covers the build steps here, the package list, the EL9 image, the interpreters and the virtualenv's
packages, so a change to any of them builds a new image (about 2-3 minutes); otherwise it is a lookup.

The source tree under test (hostprep, tests, examples, pyproject.toml) is not in the image: it is copied
into each VM, byte-compiled here first (compiling under emulation costs tens of seconds).

    python -m tests.runtime.v2vm prepare    # build (or find) the image and its base disk: ci/prep.d
"""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from hostprep.lab import paths
from hostprep.lab import vm as vmmod
from hostprep.lab.image import resolve_image
from tests.runtime.support import ROOT, interpreter

PREFIX = "hvrt"
VENV_IN_VM = "/opt/hpvenv"
# what the inner run ships of the checkout
TREE = ["hostprep", "tests/__init__.py", "tests/conftest.py", "tests/runtime", "examples", "pyproject.toml"]
# the runtime's peers and packet-rule tools (test_network runs both firewall backends: nft and iptables), as
# scripts/setup.sh installs them here
APT_LISTS = ["ci/apt/runtime.txt", "ci/apt/runtime-net.txt"]
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""
INSTALL = r"""set -eu
root=$1; shift
mount --bind /etc/apt "$root/etc/apt"
mount --bind /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
export DEBIAN_FRONTEND=noninteractive
chroot "$root" apt-get update -qq
chroot "$root" apt-get install -y -qq --no-install-recommends "$@"
chroot "$root" apt-get clean
rm -f "$root/usr/sbin/policy-rc.d"
"""


def _packages() -> list[str]:
    words: list[str] = []
    for rel in APT_LISTS:
        for line in (ROOT / rel).read_text().splitlines():
            words += line.split("#", 1)[0].split()
    return sorted(set(words))


def _interpreters() -> list[Path]:
    """Prefixes of the Pythons copied in: the control node's (this venv's base) and 3.6."""
    control = Path(sys.base_prefix)
    py36 = Path(os.path.realpath(interpreter("3.6"))).parents[1]
    return [control, py36]


def _venv_identity() -> str:
    site = Path(sysconfig.get_paths()["purelib"])
    dists = sorted(p.name for p in site.iterdir() if p.name.endswith(".dist-info"))
    return "\n".join([sys.prefix, sys.version, *dists])


def _python_identity(prefix: Path) -> str:
    exe = next(iter(sorted(prefix.glob("bin/python3.*"))), prefix / "bin/python3")
    st = exe.stat()
    return f"{prefix} {exe.name} {st.st_size} {st.st_mtime_ns}"


def recipe_key() -> str:
    base = resolve_image("el9")
    digest = hashlib.sha256()
    recipe = [INSTALL, CONTAINERS_CONF, VENV_IN_VM, *(inspect.getsource(f) for f in (_build, _copy_prefix))]
    for part in [*recipe, " ".join(_packages()), vmmod._image_identity(base),
                 *(_python_identity(p) for p in _interpreters()), _venv_identity()]:
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:12]


def flavor() -> str:
    return f"{PREFIX}-{recipe_key()}"


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout)[-3000:]
        raise RuntimeError(f"{' '.join(cmd[:6])} ... failed ({proc.returncode}): {detail}")
    return proc


def _copy_prefix(prefix: Path, root: Path) -> None:
    """A Python installation at the same path inside `root`: without its site-packages and test suite."""
    if prefix == Path("/usr"):  # a distribution's Python: the binary and its standard library
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        items = [os.path.realpath(sys._base_executable), str(stdlib)]  # type: ignore[attr-defined]
        excludes = [f"--exclude={str(stdlib / 'test').lstrip('/')}", "--exclude=*/dist-packages/*"]
    else:
        items = [str(prefix)]
        excludes = ["--exclude=*/lib/python3.*/test", "--exclude=*/lib/python3.*/site-packages/*",
                    "--exclude=*.a"]
    rel = [i.lstrip("/") for i in items]
    pack = subprocess.Popen(["tar", "-C", "/", "-cf", "-", *excludes, *rel], stdout=subprocess.PIPE)
    _run(["tar", "-C", str(root), "-xf", "-"], stdin=pack.stdout)
    if pack.wait() != 0:
        raise RuntimeError(f"tar of {prefix} failed")


def _build(target: Path) -> None:
    base = resolve_image("el9")
    paths.IMAGES.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{PREFIX}-", dir=paths.IMAGES))
    try:
        root = tmp / "rootfs"
        _run(["cp", "-a", "--reflink=auto", str(base), str(root)])
        # apt in a chroot, in a mount namespace of its own (its binds vanish with it)
        _run(["unshare", "--mount", "--propagation", "private", "sh", "-c", INSTALL, "install", str(root),
              *_packages()], timeout=1200)
        for gone in ("var/lib/apt/lists",):
            shutil.rmtree(root / gone, ignore_errors=True)
            (root / gone / "partial").mkdir(parents=True)
        # the system registry would hold port 5000: the tests start their own
        (root / "etc/systemd/system/docker-registry.service").unlink(missing_ok=True)
        (root / "etc/systemd/system/docker-registry.service").symlink_to("/dev/null")
        (root / "etc/containers").mkdir(parents=True, exist_ok=True)
        (root / "etc/containers/containers.conf").write_text(CONTAINERS_CONF)
        for prefix in _interpreters():
            _copy_prefix(prefix, root)
        venv = root / VENV_IN_VM.lstrip("/")
        _run(["cp", "-a", sys.prefix, str(venv)])
        for editable in (venv / "lib").glob("python3.*/site-packages/__editable__*"):
            editable.unlink()  # points at this checkout; the VM's copy comes by PYTHONPATH
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _prune(keep: str) -> None:
    """Older hvrt images and their base disks (no recorded VM uses them)."""
    used = vmmod._in_use()
    for old in paths.IMAGES.glob(f"user-{PREFIX}-*"):
        if old.name != f"user-{keep}":
            shutil.rmtree(old, ignore_errors=True)
    for old in vmmod.VM_CACHE.glob(f"disk-{PREFIX}-*.raw"):
        if not old.name.startswith(f"disk-{keep}-") and old not in used:
            old.unlink(missing_ok=True)


def prepare() -> str:
    """Build (or find) the suite's image and its VM base disk; returns the lab flavour to boot."""
    name = flavor()
    target = paths.IMAGES / f"user-{name}"
    lock = paths.IMAGES / f".{PREFIX}.lock"
    paths.IMAGES.mkdir(parents=True, exist_ok=True)
    import fcntl

    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if not (target / "rootfs/opt/hpvenv").exists():
            _build(target)
        _prune(name)
    vmmod.prepare(name)
    return name


def staged_tree(dest: Path) -> Path:
    """The checkout's parts the suite needs, byte-compiled for every Python that runs them; returns a tar."""
    tree = dest / "tree"
    for rel in TREE:
        src = ROOT / rel
        if src.is_dir():
            shutil.copytree(src, tree / rel, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), symlinks=True)
        else:
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, tree / rel)
    _run([sys.executable, "-m", "compileall", "-q", "-j", "0", "hostprep", "tests"], cwd=tree)
    for version in ("3.6", "3.9"):
        _run([interpreter(version), "-m", "compileall", "-q", "hostprep/runtime"], cwd=tree)
    tar = dest / "tree.tar"
    _run(["tar", "-C", str(tree), "-cf", str(tar), "."])
    return tar


def main(argv: list[str]) -> int:
    if argv[:1] != ["prepare"]:
        print("usage: python -m tests.runtime.v2vm prepare", file=sys.stderr)
        return 2
    started = time.monotonic()
    name = prepare()
    print(f"{name}: image and base disk ready ({time.monotonic() - started:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
