"""Importing images: a root filesystem tar, an OCI image layout (directory or tar), a `docker save` tar,
or a minimal image made from the host's own programs and the libraries they load (`from-host`).

Every layer is checked against the digest its manifest or config names before it is stored. Every path an
archive names (a `docker save` manifest's Config and Layers, an OCI layout's blob digests) is resolved inside
the archive: absolute paths, `..` and symlinks that lead out of it are refused, so an archive can never import
a host file. Archives are read as streams (tarsafe), broken ones (truncated gzip, cut tar) are reported as
ImageError naming the file, and an import that fails leaves no blob behind (the store's gc, under its lock).

A layer file (a root filesystem tar, a layer of an OCI layout or a `docker save` archive), plain or gzip, is read
once and written once, as a pull keeps a layer (_keep_layer): hashed, inflated and unpacked as it is read, its
headers and padding kept in a split file (tarsplit.py), no blob and no uncompressed copy (the store rebuilds the
blob when a push or save needs it). Its digest is the sha256 of the uncompressed tar, as when the tar itself was
stored. A tar that writes a path twice, or another compression, is stored as before: the uncompressed tar copied
into a blob, then unpacked from it. An archive (OCI layout tar, `docker save`) is unpacked to a work directory
first, and its layers kept from there.
"""

import gzip
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import zlib

from hostprep.runtime import tarsafe, tarsplit
from hostprep.runtime.store import MT_LAYER, BlobNeeded, ImageError, check_digest, normalize_ref

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
    try:
        with gzip.open(path, "rb") as src, os.fdopen(fd, "wb") as dst:
            shutil.copyfileobj(src, dst)
    except (EOFError, zlib.error, OSError) as exc:
        raise ImageError("{}: broken gzip data: {}".format(os.path.basename(path), exc))
    return out


def _keep_layer(store, path, workdir, check=None):
    """The descriptor of the layer tar file `path` (plain or gzip) stored in one pass (store.unpack_stream:
    unpacked files and a split file, no blob). check(file digest, tar digest), when given, raises ImageError for
    a layer that is not what its manifest or config says, before anything is moved into place. The layer's
    digest is its uncompressed tar's sha256. Other tars (bzip2, xz, a tar that writes a path twice) are stored
    as before: the uncompressed tar copied into a blob, then unpacked from it."""
    fd, split = tempfile.mkstemp(dir=workdir, suffix=".split")
    os.close(fd)
    stream = tarsplit.FileStream(path, split)
    try:
        stream.start()

        def finish():
            kept = stream.finish()
            if check is not None:
                check(stream.raw_digest, stream.digest)
            return kept + (stream.digest,)
        store.unpack_stream(None, stream, finish)
        return {"mediaType": MT_LAYER, "digest": stream.digest, "size": stream.size}
    except (tarsplit.NotStreamable, BlobNeeded):
        pass
    except tarsafe.BrokenArchive as exc:
        name = os.path.basename(path)
        raise ImageError(str(exc) if name in str(exc) else "{}: {}".format(name, exc))
    finally:
        stream.close()
        for leftover in (split, split + ".paths"):
            if os.path.exists(leftover):
                os.unlink(leftover)
    plain = _uncompressed(path, workdir)
    digest, size = store.put_blob_file(plain)
    if check is not None:
        check(digest if plain == path else _sha256_file(path), digest)
    store.unpacked(digest, verify=False)  # hashed as it was copied
    return {"mediaType": MT_LAYER, "digest": digest, "size": size}


def inside(root, rel, what):
    """The real path of `rel` inside the directory `root`, which must exist there as a regular file.

    Refused: an empty or absolute path, a `..` component, and a path whose symlinks resolve outside `root`.
    """
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\0" in rel:
        raise ImageError("{} {!r}: not a relative path inside the archive".format(what, rel))
    if ".." in rel.split("/"):
        raise ImageError("{} {!r}: '..' would leave the archive".format(what, rel))
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, rel))
    if not real.startswith(real_root + os.sep):
        raise ImageError("{} {!r}: resolves outside the archive".format(what, rel))
    try:
        st = os.lstat(real)
    except OSError:
        raise ImageError("{} {!r}: not in the archive".format(what, rel))
    if st.st_mode & 0o170000 != 0o100000:
        raise ImageError("{} {!r}: not a regular file".format(what, rel))
    return real


MAX_JSON = 64 << 20  # a manifest, index or config this big is not an image's: refused before it is read


def _load_json(path, what):
    try:
        if os.path.getsize(path) > MAX_JSON:
            raise ImageError("{}: larger than {} MB".format(what, MAX_JSON >> 20))
        with open(path, "rb") as handle:
            return json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise ImageError("{}: not valid JSON: {}".format(what, exc))


def _field(obj, key, kind, what):
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind):
        raise ImageError("{}: {!r} is missing or not a {}".format(what, key, getattr(kind, "__name__", "value")))
    return value


def _image_config(config):
    cfg = config.get("config") or {}
    keep = ("Entrypoint", "Cmd", "Env", "WorkingDir", "User", "ExposedPorts", "Labels")
    return {k: cfg.get(k) for k in keep if cfg.get(k) is not None}


def detect(path):
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "oci-layout")):
            return "oci-dir"
        raise ImageError("{} is a directory but not an OCI image layout".format(path))
    names = set()
    try:
        with tarsafe.open_stream(path) as tar:
            for m in tarsafe.entries(tar):
                name = m.name[2:] if m.name.startswith("./") else m.name
                if name in ("manifest.json", "oci-layout", "index.json"):
                    names.add(name)
    except tarsafe.BrokenArchive as exc:
        raise ImageError(str(exc))
    if "manifest.json" in names:
        return "docker-save"
    if "oci-layout" in names and "index.json" in names:
        return "oci-tar"
    return "rootfs"


def _safe_extract_archive(path, dest):
    """Unpack an image archive (not a layer) to a work dir, refusing unsafe entries."""
    tarsafe.extract(path, dest)


def import_oci_dir(store, layout, name, workdir):
    index = _load_json(inside(layout, "index.json", "OCI index"), "OCI index.json")

    def locate(desc, what):
        digest = _field(desc, "digest", str, what)
        try:
            hexd = check_digest(digest)
        except ImageError as exc:
            raise ImageError("{}: {}".format(what, exc))
        return digest, inside(layout, "blobs/sha256/" + hexd, "{} blob".format(what))

    def blob(desc, what):
        digest, path = locate(desc, what)
        if _sha256_file(path) != digest:
            raise ImageError("OCI blob {} does not match its digest".format(digest))
        return path

    manifests = _field(index, "manifests", list, "OCI index.json")
    if not manifests:
        raise ImageError("OCI layout has no manifests")
    desc = manifests[0]
    for m in manifests:
        if isinstance(m, dict) and (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") in (
                name, name.split(":")[-1]):
            desc = m
    manifest = _load_json(blob(desc, "index entry"), "OCI manifest")
    if isinstance(manifest, dict) and "manifests" in manifest:  # a nested index: take the linux/amd64 manifest
        nested = _field(manifest, "manifests", list, "nested OCI index")
        pick = [m for m in nested if isinstance(m, dict)
                and (m.get("platform") or {}).get("architecture") in ("amd64", None)]
        if not (pick or nested):
            raise ImageError("nested OCI index lists no manifest")
        manifest = _load_json(blob((pick or nested)[0], "nested index entry"), "OCI manifest")
    config = _load_json(blob(_field(manifest, "config", dict, "OCI manifest"), "manifest config"), "image config")
    diff_ids = ((config.get("rootfs") or {}).get("diff_ids") or []) if isinstance(config, dict) else []
    layers = []
    for i, layer in enumerate(_field(manifest, "layers", list, "OCI manifest")):
        digest, path = locate(layer, "layer {}".format(i))

        def check(raw, plain, digest=digest, i=i):
            if raw != digest:
                raise ImageError("OCI blob {} does not match its digest".format(digest))
            if i < len(diff_ids) and plain != diff_ids[i]:
                raise ImageError("layer {} does not match the config's diff_id".format(digest))
        layers.append(_keep_layer(store, path, workdir, check))
    return store.commit(name, layers, config=_image_config(config))


def import_docker_save(store, root, name, workdir):
    entries = _load_json(inside(root, "manifest.json", "manifest"), "docker save manifest.json")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise ImageError("docker save manifest.json lists no image")
    entry = entries[0]
    for e in entries:
        tags = e.get("RepoTags") or []
        if isinstance(tags, list) and normalize_ref(name) in [normalize_ref(str(t)) for t in tags]:
            entry = e
    config_path = inside(root, _field(entry, "Config", str, "manifest.json"), "manifest.json Config")
    config = _load_json(config_path, "image config " + entry["Config"])
    diff_ids = ((config.get("rootfs") or {}).get("diff_ids") or []) if isinstance(config, dict) else []
    layers = []
    for i, rel in enumerate(_field(entry, "Layers", list, "manifest.json")):
        path = inside(root, rel, "manifest.json Layers[{}]".format(i))

        def check(raw, plain, rel=rel, i=i):
            if i < len(diff_ids) and plain != diff_ids[i]:
                raise ImageError("layer {} does not match the image config".format(rel))
        layers.append(_keep_layer(store, path, workdir, check))
    return store.commit(name, layers, config=_image_config(config))


def import_any(store, path, name, cmd=None):
    """Import `path` under `name`, whatever of the supported kinds it is; returns the manifest digest."""
    from hostprep.runtime import refs

    refs.check_image_name(name)  # before any work: a bad name is refused up front
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise ImageError("{}: {}".format(path, exc.strerror))
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # a FIFO, /dev/zero...: would block or never end
        raise ImageError("{}: not a regular file or a directory".format(path))
    kind = detect(path)
    with store.lock():
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
            layer = _keep_layer(store, path, workdir)
            import shlex

            return store.commit(name, [layer], config={"Cmd": shlex.split(cmd) if cmd else ["/bin/sh"]})
        except tarsafe.BrokenArchive as exc:
            store.gc()
            raise ImageError(str(exc))
        except BaseException:
            store.gc()  # nothing of a failed import stays: no image names its blobs
            raise
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
    from hostprep.runtime import refs

    refs.check_image_name(name)
    files = host_closure(paths)
    with store.lock():
        return _from_host_locked(store, name, files)


def _from_host_locked(store, name, files):
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
        return store.commit(name, [_keep_layer(store, tar_path, workdir)], config={"Cmd": [files[0]]})
    except BaseException:
        store.gc()
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
