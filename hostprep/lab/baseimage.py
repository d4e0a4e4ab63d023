"""A lab flavour's image tree as a container base image (`hostprep lab base-image el7` gives `centos:7`).

The Docker guide builds on `centos:7`; the lab's centos:7 is the EL7 lab image tree (a Debian 12 userland
presented as CentOS 7.9, see README.md) as one OCI layer, with centos:7's config (`Cmd ["/bin/bash"]`).
Its yum reads the lab repository at 10.231.0.1:8480, so a build that installs packages runs its RUN steps
with `hostprep-runtime build --network host` while the lab bridge and repository are up (this command brings
both up).

The layer tar is cached next to the image tree it is made from (`<image dir>/container-layer.tar`, keyed by
the image's recipe hash like the tree itself) and written reproducibly (sorted names, numeric owners, the
tree's own times), so the image ID is the same on every machine with the same recipe. Documentation, man
pages and apt's lists are left out (they are not in centos:7 either).

Kept apart from image.py on purpose: the image trees' cache key hashes image.py, and this module changing
must not rebuild every lab image.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from hostprep.errors import HostprepError
from hostprep.lab import paths

TAGS = {"el7": "centos:7", "el8": "centos:8", "el9": "centos:stream9"}
EXCLUDE = ["./dev/*", "./proc/*", "./sys/*", "./run/*", "./tmp/*", "./usr/share/doc/*", "./usr/share/man/*",
           "./usr/share/info/*", "./var/lib/apt/lists/*", "./var/cache/apt/*", "./var/log/*", "./etc/ssh/ssh_host_*"]
LAYER_NAME = "container-layer.tar"


def layer_tar(flavor: str) -> Path:
    """The flavour's image tree as an uncompressed layer tar (made once per image recipe)."""
    from hostprep.lab.image import build_image

    rootfs = build_image(flavor)
    out = rootfs.parent / LAYER_NAME
    if out.exists():
        return out
    fd, tmp = tempfile.mkstemp(prefix=".layer-", suffix=".tar", dir=rootfs.parent)
    os.close(fd)
    try:
        cmd = ["tar", "--create", "--file", tmp, "--directory", str(rootfs), "--sort=name", "--numeric-owner",
               "--xattrs", "--xattrs-include=security.capability", "--format=posix",
               "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
               *[f"--exclude={pattern}" for pattern in EXCLUDE], "."]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise HostprepError(f"tar of the {flavor} image failed: {proc.stderr[-1500:]}")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def runtime_command() -> list[str]:
    """How to run hostprep-runtime from here (the venv's console script, else the module)."""
    import shutil
    import sys

    found = shutil.which("hostprep-runtime") or str(Path(sys.executable).parent / "hostprep-runtime")
    if os.path.exists(found):
        return [found]
    return [sys.executable, "-m", "hostprep.runtime"]


def import_base(flavor: str = "el7", tag: str | None = None, serve: bool = True) -> tuple[str, str]:
    """Import the flavour's base image into hostprep-runtime's store (its HOSTPREP_RUNTIME_ROOT) under `tag`
    (default: centos:7 for el7); returns (tag, image ID). With `serve`, the lab bridge and repository are
    brought up too, so the image's yum can reach them."""
    if flavor not in TAGS:
        raise HostprepError(f"no base image for lab flavour {flavor!r} (one of {', '.join(TAGS)})")
    tag = tag or TAGS[flavor]
    tar = layer_tar(flavor)
    if serve:
        from hostprep.lab import network
        from hostprep.lab.repo import ensure_served

        network.ensure_bridge()
        ensure_served(paths.BRIDGE_ADDRESS, paths.REPO_PORT)
    runtime = runtime_command()
    proc = subprocess.run([*runtime, "import", "--cmd", "/bin/bash", str(tar), tag], capture_output=True, text=True)
    if proc.returncode != 0:
        raise HostprepError(f"hostprep-runtime import of {tar} failed: {(proc.stderr or proc.stdout)[-1500:]}")
    inspect = subprocess.run([*runtime, "image", "inspect", tag], capture_output=True, text=True)
    image_id = ""
    if inspect.returncode == 0:
        import json

        image_id = json.loads(inspect.stdout)[0].get("Id", "")
    return tag, image_id


def push_base(flavor: str = "el7", tag: str | None = None) -> str:
    """Push the imported base image to the lab registry (brought up if it is not) as 10.231.0.1:5000/lab/<tag>,
    trusting the lab CA and logging in to it in the runtime's state root; returns the pushed reference."""
    from hostprep.lab import registry

    tag = tag or TAGS[flavor]
    registry.up()
    root = Path(os.environ.get("HOSTPREP_RUNTIME_ROOT", "/var/lib/hostprep-runtime"))
    registry.trust_on(root)
    runtime = runtime_command()
    login = subprocess.run([*runtime, "login", "-u", registry.USER, "--password-stdin", registry.ADDRESS],
                           input=registry.password() + "\n", capture_output=True, text=True)
    if login.returncode != 0:
        raise HostprepError(f"login to the lab registry failed: {login.stderr[-500:]}")
    ref = f"{registry.ADDRESS}/lab/{tag}"
    proc = subprocess.run([*runtime, "push", tag, ref], capture_output=True, text=True)
    if proc.returncode != 0:
        raise HostprepError(f"push of {tag} to {ref} failed: {proc.stderr[-1000:]}")
    return ref
