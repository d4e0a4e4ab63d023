"""What the build tests share: podman as the peer (checked to be there, never skipped), a busybox base image
in both stores, contexts made from a case, and the two images' file trees and configs in one comparable form."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

from hostprep.runtime.store import Store
from tests.runtime.support import ROOT

# files and mount points buildah leaves in an image after a RUN (its bind mounts' targets); Docker leaves none
PEER_MOUNT_FILES = {"etc/hosts", "etc/hostname", "etc/resolv.conf"}
PEER_MOUNT_DIRS = {"dev", "proc", "sys", "run"}
CONFIG_FIELDS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "Labels",
                 "StopSignal", "Healthcheck")  # Shell: podman's inspect does not show it (its effect on CMD does)
PEER_LABELS = {"io.buildah.version"}


def podman() -> str:
    path = shutil.which("podman")
    if not path or not os.path.exists("/etc/containers/containers.conf"):
        raise RuntimeError("podman is the build tests' peer: apt-get install podman buildah skopeo "
                           "(ci/apt/runtime.txt) and run ci/prep.d/50-runtime-peers.sh")
    return path


def run_podman(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([podman(), *args], capture_output=True, text=True, timeout=timeout)


def podman_image_ids() -> set[str]:
    """Every image id in podman's store (what a module made is what is new at its end)."""
    res = run_podman("images", "-a", "-q", "--no-trunc")
    assert res.returncode == 0, res.stderr
    return set(res.stdout.split())


def remove_podman_images(made: list[str], before: set[str]) -> None:
    """The images a module named, then every image it left without a name (a pulled or built image whose tag
    moved on), by id: nothing of the peer's accumulates on the machine from run to run."""
    run_podman("rmi", "-f", *made)
    left = sorted(podman_image_ids() - before)
    if left:
        run_podman("rmi", "-f", *left)


def make_context(base: Path, case: dict) -> Path:
    ctx = base
    ctx.mkdir(parents=True)
    for rel, content in (case.get("files") or {}).items():
        text, mode = content if isinstance(content, tuple) else (content, 0o644)
        path = ctx / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
    for rel, target in (case.get("links") or {}).items():
        (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
        (ctx / rel).symlink_to(target)
    for name in case.get("tars") or []:
        _bundle(ctx / name)
    if "dockerignore" in case:
        (ctx / ".dockerignore").write_text(case["dockerignore"])
    return ctx


def _bundle(path: Path) -> None:
    """A tar for ADD: a directory and files with owners and modes of their own."""
    mode = "w:gz" if path.name.endswith(".gz") else "w"
    with tarfile.open(path, mode) as tar:
        for name, kind, perm, owner in (("pkg", tarfile.DIRTYPE, 0o750, 1000), ("pkg/run.sh", tarfile.REGTYPE,
                                        0o755, 0), ("pkg/data", tarfile.REGTYPE, 0o600, 1000)):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.uid, info.gid, info.mtime = kind, perm, owner, owner, 1700000000
            data = b"" if kind == tarfile.DIRTYPE else (name + "\n").encode()
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
        link = tarfile.TarInfo("pkg/link")
        link.type, link.linkname = tarfile.SYMTYPE, "run.sh"
        tar.addfile(link)


def tree(root: str) -> dict[str, tuple]:
    """Every path under root: (kind, mode, uid, gid, sha256 of the content or the link target)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in dirnames + sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                value = os.readlink(full)
                kind = "link"
            elif stat.S_ISDIR(st.st_mode):
                kind, value = "dir", ""
            elif stat.S_ISREG(st.st_mode):
                kind = "file"
                value = hashlib.sha256(Path(full).read_bytes()).hexdigest()[:16]
            else:
                kind, value = "other", oct(st.st_mode)
            out[rel] = (kind, oct(stat.S_IMODE(st.st_mode)) if kind != "link" else "", st.st_uid, st.st_gid, value)
    return out


def without_peer_mounts(peer: dict, ours: dict) -> dict:
    """The peer's tree without what buildah leaves behind after a RUN and the runtime does not make."""
    out = {}
    for rel, entry in peer.items():
        if rel in PEER_MOUNT_FILES and rel not in ours and entry[0] == "file" and entry[4] == hashlib.sha256(
                b"").hexdigest()[:16]:
            continue
        if rel in PEER_MOUNT_DIRS and rel not in ours and entry[0] == "dir" and not any(
                r.startswith(rel + "/") for r in peer):
            continue
        out[rel] = entry
    return out


def our_tree(state: Path, ref: str, scratch: Path) -> dict:
    """The image's files as the runtime's overlay would show them (its unpacked layers, mounted read-only)."""
    store = Store(str(state), create=False)
    manifest, _ = store.resolve(ref)
    dirs = store.layer_dirs(manifest)
    if not dirs:
        return {}
    if len(dirs) == 1:
        return tree(dirs[0])
    target = scratch / ("view-" + os.urandom(4).hex())
    target.mkdir(parents=True)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", "ro,lowerdir=" + ":".join(reversed(dirs)),
                    str(target)], check=True)
    try:
        return tree(str(target))
    finally:
        subprocess.run(["umount", str(target)], check=True)
        target.rmdir()


def peer_tree(ref: str) -> dict:
    res = run_podman("image", "mount", ref)
    assert res.returncode == 0, res.stderr
    try:
        return tree(res.stdout.strip())
    finally:
        run_podman("image", "unmount", ref)


def normalized_config(cfg: dict, skip: tuple = ()) -> dict:
    out = {}
    for field in CONFIG_FIELDS:
        if field in skip:
            continue
        value = cfg.get(field)
        if field == "Labels" and value:
            value = {k: v for k, v in value.items() if k not in PEER_LABELS}
        if field == "Healthcheck" and value:
            value = {k: v for k, v in value.items() if v not in (0, None, "")}
        out[field] = value if value not in ("", [], {}, None) else None
    return out


def runtime_env(state: Path) -> dict:
    return dict(os.environ, HOSTPREP_RUNTIME_ROOT=str(state), PYTHONPATH=str(ROOT))
