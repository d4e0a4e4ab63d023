"""Importing images: a root filesystem tar, an OCI image layout (directory or tar), a `docker save` tar,
or a minimal image made from the host's own programs and the libraries they load (`from-host`).

Every layer is checked against the digest its manifest or config names before it is stored.
"""

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile

from hostprep.runtime.store import ImageError, normalize_ref

GZIP_MAGIC = b"\x1f\x8b"


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _uncompressed(path, workdir):
    """The path of an uncompressed copy of a layer (the same path if it is not gzip-compressed)."""
    with open(path, "rb") as handle:
        if handle.read(2) != GZIP_MAGIC:
            return path
    fd, out = tempfile.mkstemp(dir=workdir, suffix=".tar")
    with gzip.open(path, "rb") as src, os.fdopen(fd, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return out


def _image_config(config):
    cfg = config.get("config") or {}
    keep = ("Entrypoint", "Cmd", "Env", "WorkingDir", "User", "ExposedPorts", "Labels")
    return {k: cfg.get(k) for k in keep if cfg.get(k) is not None}


def detect(path):
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "oci-layout")):
            return "oci-dir"
        raise ImageError("{} is a directory but not an OCI image layout".format(path))
    try:
        with tarfile.open(path, "r:*") as tar:
            names = {n.lstrip("./") for n in tar.getnames()}
    except tarfile.TarError as exc:
        raise ImageError("{} is not a tar archive: {}".format(path, exc))
    if "manifest.json" in names:
        return "docker-save"
    if "oci-layout" in names and "index.json" in names:
        return "oci-tar"
    return "rootfs"


def _safe_extract_archive(path, dest):
    """Unpack an image archive (not a layer) to a work dir, refusing unsafe entries."""
    from hostprep.runtime import tarsafe

    tarsafe.extract(path, dest)


def import_oci_dir(store, layout, name, workdir):
    with open(os.path.join(layout, "index.json")) as handle:
        index = json.load(handle)

    def blob(digest):
        algo, _, hexd = digest.partition(":")
        path = os.path.join(layout, "blobs", algo, hexd)
        if not os.path.exists(path):
            raise ImageError("OCI layout is missing blob {}".format(digest))
        if _sha256_file(path) != digest:
            raise ImageError("OCI blob {} does not match its digest".format(digest))
        return path

    manifests = index.get("manifests") or []
    if not manifests:
        raise ImageError("OCI layout has no manifests")
    desc = manifests[0]
    for m in manifests:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") in (name, name.split(":")[-1]):
            desc = m
    with open(blob(desc["digest"])) as handle:
        manifest = json.load(handle)
    if "manifests" in manifest:  # a nested index: take the linux/amd64 manifest
        pick = [m for m in manifest["manifests"] if m.get("platform", {}).get("architecture") in ("amd64", None)]
        with open(blob((pick or manifest["manifests"])[0]["digest"])) as handle:
            manifest = json.load(handle)
    with open(blob(manifest["config"]["digest"])) as handle:
        config = json.load(handle)
    diff_ids = config.get("rootfs", {}).get("diff_ids", [])
    layers = []
    for i, layer in enumerate(manifest["layers"]):
        plain = _uncompressed(blob(layer["digest"]), workdir)
        if i < len(diff_ids) and _sha256_file(plain) != diff_ids[i]:
            raise ImageError("layer {} does not match the config's diff_id".format(layer["digest"]))
        layers.append(plain)
    return store.commit(name, layers, config=_image_config(config))


def import_docker_save(store, root, name, workdir):
    with open(os.path.join(root, "manifest.json")) as handle:
        entries = json.load(handle)
    if not entries:
        raise ImageError("docker save archive lists no image")
    entry = entries[0]
    for e in entries:
        if normalize_ref(name) in [normalize_ref(t) for t in e.get("RepoTags") or []]:
            entry = e
    with open(os.path.join(root, entry["Config"])) as handle:
        config = json.load(handle)
    diff_ids = config.get("rootfs", {}).get("diff_ids", [])
    layers = []
    for i, rel in enumerate(entry["Layers"]):
        plain = _uncompressed(os.path.join(root, rel), workdir)
        if i < len(diff_ids) and _sha256_file(plain) != diff_ids[i]:
            raise ImageError("layer {} does not match the image config".format(rel))
        layers.append(plain)
    return store.commit(name, layers, config=_image_config(config))


def import_any(store, path, name, cmd=None):
    """Import `path` under `name`, whatever of the supported kinds it is; returns the manifest digest."""
    kind = detect(path)
    workdir = tempfile.mkdtemp(dir=store.root, prefix=".import-")
    try:
        if kind == "oci-dir":
            return import_oci_dir(store, path, name, workdir)
        if kind in ("oci-tar", "docker-save"):
            unpacked = os.path.join(workdir, "archive")
            _safe_extract_archive(path, unpacked)
            if kind == "oci-tar":
                return import_oci_dir(store, unpacked, name, workdir)
            return import_docker_save(store, unpacked, name, workdir)
        plain = _uncompressed(path, workdir)
        import shlex

        return store.commit(name, [plain], config={"Cmd": shlex.split(cmd) if cmd else ["/bin/sh"]})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


_LDD = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)")


def host_closure(paths):
    """The programs and every library (and the dynamic loader) they load, as found by ldd."""
    files = []
    for p in paths:
        real = shutil.which(p) if not os.path.isabs(p) else p
        if not real or not os.path.exists(real):
            raise ImageError("{} not found on this host".format(p))
        files.append(os.path.abspath(real))
        proc = subprocess.run(["ldd", real], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              universal_newlines=True)  # Python 3.6: no capture_output/text
        if proc.returncode == 0:
            for line in proc.stdout.splitlines():
                m = _LDD.search(line)
                if m:
                    files.append(m.group(1))
    seen = []
    for f in files:
        if f not in seen:
            seen.append(f)
    return seen


def from_host(store, name, paths):
    """A minimal image of host programs and their libraries (for hosts without any registry)."""
    files = host_closure(paths)
    workdir = tempfile.mkdtemp(dir=store.root, prefix=".fromhost-")
    try:
        tar_path = os.path.join(workdir, "layer.tar")
        with tarfile.open(tar_path, "w") as tar:
            dirs = set()
            for f in files:
                parts = f.strip("/").split("/")[:-1]
                for i in range(1, len(parts) + 1):
                    d = "/".join(parts[:i])
                    if d not in dirs:
                        dirs.add(d)
                        info = tarfile.TarInfo(d)
                        info.type = tarfile.DIRTYPE
                        info.mode = 0o755
                        tar.addfile(info)
                real = os.path.realpath(f)
                info = tar.gettarinfo(real, arcname=f.strip("/"))
                with open(real, "rb") as handle:
                    tar.addfile(info, handle)
            for d in ("tmp", "proc", "sys", "dev", "etc"):
                if d not in dirs:
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o1777 if d == "tmp" else 0o755
                    tar.addfile(info)
            passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
            info = tarfile.TarInfo("etc/passwd")
            info.size = len(passwd)
            info.mode = 0o644
            import io

            tar.addfile(info, io.BytesIO(passwd))
        return store.commit(name, [tar_path], config={"Cmd": [files[0]]})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
