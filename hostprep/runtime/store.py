"""Images as an OCI image layout under the runtime's root, with unpacked layers for overlayfs.

Blobs are content-addressed (sha256) and checked when written and before use; an image name is
the `org.opencontainers.image.ref.name` annotation of its manifest in index.json.

Whatever writes or removes blobs (import, commit, rmi, prune) holds an exclusive flock of oci/.lock for its
whole run, so a garbage collection never sees another import's blobs before they are named. A blob, config or
unpacked layer is kept while a named image or a container's image (its state's `image_id`) uses it.
"""

import os

from hostprep.runtime import jsonio

REF = "org.opencontainers.image.ref.name"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"
# what a compressed layer's media type is when it is given uncompressed (export_layer)
UNCOMPRESSED = {"application/vnd.oci.image.layer.v1.tar+gzip": MT_LAYER,
                "application/vnd.docker.image.rootfs.diff.tar.gzip": "application/vnd.docker.image.rootfs.diff.tar"}
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def sha256(data=b""):
    """A sha256 object; the builtin module when there is one (hashlib loads OpenSSL: ~2.5 ms per start)."""
    try:
        from _sha256 import sha256 as impl  # Python <= 3.11
    except ImportError:
        try:
            from _sha2 import sha256 as impl  # Python >= 3.12
        except ImportError:
            from hashlib import sha256 as impl
    return impl(data)


class ImageError(Exception):
    """A missing or broken image."""


def state_root():
    return os.environ.get("HOSTPREP_RUNTIME_ROOT") or "/var/lib/hostprep-runtime"


def normalize_ref(ref):
    return ref if ":" in ref.rsplit("/", 1)[-1] else ref + ":latest"


def _atomic_json(path, data):
    import json

    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class Store:
    """The image store: OCI layout in ROOT/oci, unpacked layers in ROOT/layers."""

    def __init__(self, root=None, create=True):
        self.root = root or state_root()
        self.oci = os.path.join(self.root, "oci")
        self.blobs = os.path.join(self.oci, "blobs", "sha256")
        self.layers = os.path.join(self.root, "layers")
        if not create:  # reading only (run): a store that is not there has no images
            return
        for d in (self.blobs, self.layers):
            os.makedirs(d, exist_ok=True)
        layout = os.path.join(self.oci, "oci-layout")
        if not os.path.exists(layout):
            _atomic_json(layout, {"imageLayoutVersion": "1.0.0"})
        if not os.path.exists(self._index_path()):
            _atomic_json(self._index_path(), {"schemaVersion": 2, "manifests": []})

    # -- blobs -----------------------------------------------------------------------------
    def _index_path(self):
        return os.path.join(self.oci, "index.json")

    def put_blob(self, data):
        import tempfile

        digest = sha256(data).hexdigest()
        path = os.path.join(self.blobs, digest)
        if not os.path.exists(path):
            fd, tmp = tempfile.mkstemp(dir=self.blobs, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        return "sha256:" + digest, len(data)

    def put_blob_file(self, src):
        """Copy a file into the blob store, hashing as it goes; returns (digest, size)."""
        import tempfile

        h = sha256()
        fd, tmp = tempfile.mkstemp(dir=self.blobs, prefix=".tmp-")
        size = 0
        try:
            with open(src, "rb") as inp, os.fdopen(fd, "wb") as out:
                while True:
                    chunk = inp.read(1 << 20)
                    if not chunk:
                        break
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            os.replace(tmp, os.path.join(self.blobs, h.hexdigest()))
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        return "sha256:" + h.hexdigest(), size

    def blob_path(self, digest, verify=True):
        hexd = check_digest(digest)
        path = os.path.join(self.blobs, hexd)
        if not os.path.exists(path) and os.path.exists(self._split(hexd)):
            if self.layer_diff_id(digest) is not None:
                raise ImageError("layer {} was pulled compressed and is kept as its files: its compressed blob is not "
                                 "kept (push and save give its uncompressed tar, export_manifest)".format(digest))
            self._rebuild_blob(hexd)  # a pulled plain-tar layer, first needed as a blob (push, save)
        if not os.path.exists(path):
            raise ImageError("blob {} is missing".format(digest))
        if verify:
            h = sha256()
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                while True:
                    chunk = os.read(fd, 1 << 20)
                    if not chunk:
                        break
                    h.update(chunk)
            finally:
                os.close(fd)
            if h.hexdigest() != hexd:
                raise ImageError("blob {} is corrupt (sha256 mismatch)".format(digest))
        return path

    def read_json(self, digest):
        """A small JSON blob (manifest, config), read once and checked against its digest."""
        hexd = check_digest(digest)
        data = _read_bytes(os.path.join(self.blobs, hexd), "blob {} is missing".format(digest))
        if sha256(data).hexdigest() != hexd:
            raise ImageError("blob {} is corrupt (sha256 mismatch)".format(digest))
        return jsonio.loads(data)

    # -- index -----------------------------------------------------------------------------
    def index(self):
        try:
            data = _read_bytes(self._index_path(), "")
        except ImageError:  # a store never written to (Store(create=False)): no images
            return {"schemaVersion": 2, "manifests": []}
        return jsonio.loads(data)

    def set_ref(self, ref, manifest_digest, size):
        ref = normalize_ref(ref)
        idx = self.index()
        idx["manifests"] = [m for m in idx["manifests"] if m.get("annotations", {}).get(REF) != ref]
        idx["manifests"].append({"mediaType": MT_MANIFEST, "digest": manifest_digest, "size": size,
                                 "annotations": {REF: ref}})
        _atomic_json(self._index_path(), idx)

    def remove_ref(self, ref):
        ref = normalize_ref(ref)
        idx = self.index()
        gone = [m for m in idx["manifests"] if m.get("annotations", {}).get(REF) == ref]
        if not gone:
            raise ImageError("no such image: {}".format(ref))
        idx["manifests"] = [m for m in idx["manifests"] if m.get("annotations", {}).get(REF) != ref]
        _atomic_json(self._index_path(), idx)
        return gone[0]["digest"]

    def images(self):
        out = []
        for m in self.index()["manifests"]:
            ref = m.get("annotations", {}).get(REF)
            if ref:
                out.append((ref, m["digest"]))
        return out

    def lookup(self, ref):
        """The manifest digest of an image by name[:tag], name@digest, digest, or a unique ID prefix.

        An exact name wins over an ID prefix; an empty or ambiguous prefix is refused; a reference that breaks
        the reference grammar is refused with the rule (checked only when nothing matched: `run` needs no `re`).
        """
        from hostprep.runtime import refs

        if not ref:
            raise refs.InvalidReference("invalid reference format: the image reference is empty")
        images = self.images()
        ref_n = normalize_ref(ref)
        for name, digest in images:
            if name == ref_n:
                return digest
        if "@" in ref:  # NAME[:TAG]@sha256:HEX: the image with that manifest digest under that repository
            domain, path, _, wanted = refs.parse_image_ref(ref)
            repo = (domain + "/" if domain else "") + path
            for name, digest in images:
                if digest == wanted and name.rsplit(":", 1)[0] == repo:
                    return digest
            raise ImageError("no such image: {}".format(ref))
        if refs.is_id_prefix(ref):
            prefix = ref[7:] if ref.startswith("sha256:") else ref
            found = set()
            for _, digest in images:
                if digest[7:].startswith(prefix) or self.read_json(digest)["config"]["digest"][7:].startswith(prefix):
                    found.add(digest)
            if len(found) > 1:
                raise ImageError("image ID prefix {} is ambiguous: it matches {}".format(ref, ", ".join(sorted(found))))
            if found:
                return found.pop()
        refs.parse_image_ref(ref)
        raise ImageError("no such image: {}".format(ref))

    def image(self, digest):
        """(manifest, config) of the image whose manifest has `digest`."""
        manifest = self.read_json(digest)
        return manifest, self.read_json(manifest["config"]["digest"])

    def resolve(self, ref):
        """(manifest, config) of an image by name, id prefix or digest (see lookup)."""
        return self.image(self.lookup(ref))

    def names_of(self, digest):
        return [name for name, d in self.images() if d == digest]

    # -- locking and garbage collection -------------------------------------------------------------------
    def lock(self):
        """An exclusive flock of the store (released when the returned file object is closed)."""
        import fcntl

        handle = open(os.path.join(self.oci, ".lock"), "a")  # noqa: SIM115 - the caller closes it to unlock
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        return handle

    def referenced(self, keep=(), named=True):
        """(blob digests, layer digests) used by the named images (unless not `named`) and the manifests in
        `keep`."""
        blobs, layers = set(), set()
        for digest in set(d for _, d in self.images() if named) | set(d for d in keep if d):
            try:
                manifest = self.read_json(digest)
            except (ImageError, ValueError):
                continue
            blobs.add(digest)
            blobs.add(manifest["config"]["digest"])
            for layer in manifest.get("layers") or []:
                blobs.add(layer["digest"])
                layers.add(layer["digest"])
        for digest in self.build_cache_layers():  # a build's cached steps (builder.py) keep their layers
            blobs.add(digest)
            layers.add(digest)
        return blobs, layers

    def build_cache_layers(self):
        """The layer digests the build cache (ROOT/build-cache, one JSON record per step) refers to."""
        out = set()
        try:
            entries = list(os.scandir(os.path.join(self.root, "build-cache")))
        except OSError:
            return out
        for entry in entries:
            if not entry.name.endswith(".json"):
                continue
            try:
                layer = jsonio.loads(_read_bytes(entry.path, "")).get("layer")
            except (ImageError, ValueError, AttributeError):
                continue
            if isinstance(layer, dict) and isinstance(layer.get("digest"), str):
                out.add(layer["digest"])
        return out

    def gc(self, keep=()):
        """Remove blobs and unpacked layers nothing uses (see referenced); the caller holds lock().

        Returns [(what, bytes)] of what was removed. Partial writes (temporary files, layers never completed,
        import work directories) are removed too: every writer holds the lock, so none of them is in progress.
        """
        import shutil

        blobs, layers = self.referenced(keep)
        removed = []
        for entry in os.scandir(self.blobs):
            if "sha256:" + entry.name not in blobs:
                size = entry.stat(follow_symlinks=False).st_size
                os.unlink(entry.path)
                removed.append(("sha256:" + entry.name, size))
        for entry in os.scandir(self.layers):
            complete = os.path.exists(os.path.join(entry.path, ".complete"))
            if "sha256:" + entry.name not in layers or not complete:
                # a layer kept as its files and a split file (unpack_stream) is its blob too: removed as one
                stood_for_blob = complete and os.path.exists(os.path.join(entry.path, "split")) and (
                    "sha256:" + entry.name not in {name for name, _size in removed})
                size = disk_usage(entry.path)
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(("sha256:" + entry.name if stood_for_blob else "layer sha256:" + entry.name, size))
        for entry in os.scandir(self.root):
            if entry.name.startswith((".import-", ".fromhost-", ".build-")) and entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
        return removed

    # -- layers ----------------------------------------------------------------------------
    def unpacked(self, layer_digest, verify=True):
        """The unpacked directory of a layer blob (unpacked once, after checking the blob unless the caller has
        just hashed it: a pull checks every blob as it arrives)."""
        hexd = layer_digest.split(":")[1]
        target = os.path.join(self.layers, hexd)
        if os.path.exists(os.path.join(target, ".complete")):
            return os.path.join(target, "root")
        import shutil

        from hostprep.runtime import tarsafe

        if os.path.exists(target):
            shutil.rmtree(target)
        os.makedirs(target)
        try:
            tarsafe.extract(self.blob_path(layer_digest, verify), os.path.join(target, "root"), whiteouts=True)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        with open(os.path.join(target, ".complete"), "w"):
            pass
        return os.path.join(target, "root")

    def unpack_stream(self, layer_digest, stream, finish):
        """Unpack a layer from `stream` as it arrives (a pull's single pass), then call finish(), which reads the
        stream to its end, checks the blob and returns (split file, the regular files it counts, the diff_id of
        a compressed layer or None). Only then is the layer moved into place: its unpacked files and the split
        file stand for the blob (tarsplit.py: blob_path rebuilds a plain one when it is needed; a compressed
        one is given as its uncompressed tar, export_layer), unless a later entry replaced or removed a file
        the split file refers to: then BlobNeeded (the caller fetches the blob again). On any failure nothing
        is left behind.

        With `layer_digest` None (an import: the digest is the sha256 of the tar, known once it is read),
        finish() returns the digest as a fourth value; a layer the store has complete already is kept as it is.
        """
        import json
        import shutil
        import tarfile
        import tempfile

        from hostprep.runtime import tarsafe

        if layer_digest is None:
            work = tempfile.mkdtemp(dir=self.layers, prefix=".import-")
        else:
            hexd = check_digest(layer_digest)
            target = os.path.join(self.layers, hexd)
            work = os.path.join(self.layers, ".pull-" + hexd)
            for stale in (work, target):
                if os.path.exists(stale):
                    shutil.rmtree(stale)
            os.makedirs(work)
        root = os.path.join(work, "root")
        files = []  # (path, size, inode) of each regular file with data, in tar order
        written = {}  # how many entries wrote each real path (an entry may write through a symlinked parent)

        file_reals = set()

        def extracted(m, path):
            real = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
            written[real] = written.get(real, 0) + 1
            if m.isreg() and m.type != tarfile.GNUTYPE_SPARSE and m.size:
                files.append((os.path.relpath(path, root), m.size, os.lstat(path).st_ino, real))
                file_reals.add(real)
            if written[real] > 1 and real in file_reals:  # a file's path written twice: given up at once
                raise BlobNeeded()
        try:
            tarsafe.extract_fileobj(stream, root, whiteouts=True, on_member=extracted)
            if layer_digest is None:
                split, counted, diff_id, layer_digest = finish()
                target = os.path.join(self.layers, check_digest(layer_digest))
                if os.path.exists(os.path.join(target, ".complete")):  # the same layer, there already
                    shutil.rmtree(work)
                    return os.path.join(target, "root")
                if os.path.exists(target):
                    shutil.rmtree(target)
            else:
                split, counted, diff_id = finish()
            kept = counted == len(files) and all(
                written[real] == 1 and _same_file(os.path.join(root, p), size, ino) for p, size, ino, real in files)
            if not kept:
                raise BlobNeeded()
            with open(os.path.join(work, "split.paths"), "w") as handle:
                json.dump([f[0] for f in files], handle)
            os.replace(split, os.path.join(work, "split"))
            if diff_id is not None:  # a compressed layer: what its files and split file give is its diff_id's tar
                with open(os.path.join(work, "diff_id"), "w") as handle:
                    handle.write(diff_id)
            with open(os.path.join(work, ".complete"), "w"):
                pass
            os.rename(work, target)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return os.path.join(target, "root")

    def has_blob(self, digest):
        """Whether the store has the blob: as a file, or as an unpacked layer and its split file."""
        hexd = check_digest(digest)
        return os.path.exists(os.path.join(self.blobs, hexd)) or os.path.exists(self._split(hexd))

    def _split(self, hexd):
        return os.path.join(self.layers, hexd, "split")

    def layer_diff_id(self, digest):
        """The diff_id of a compressed layer a pull kept as its files (no blob of it is kept), or None."""
        try:
            with open(os.path.join(self.layers, check_digest(digest), "diff_id")) as handle:
                return handle.read().strip()
        except FileNotFoundError:
            return None

    def export_layer(self, layer):
        """(descriptor, path) of a manifest's layer as a push or a save sends it: its blob, or, for a compressed
        layer kept as its files (layer_diff_id), its uncompressed tar, rebuilt from them and checked against the
        diff_id, with a descriptor saying so (the compressed bytes cannot be made again, as podman's storage)."""
        digest = layer["digest"]
        hexd = check_digest(digest)
        diff_id = self.layer_diff_id(digest)
        if diff_id is None or os.path.exists(os.path.join(self.blobs, hexd)):
            return layer, self.blob_path(digest, verify=False)
        path = os.path.join(self.blobs, check_digest(diff_id))
        if not os.path.exists(path):
            self._rebuild_blob(hexd, check_digest(diff_id))
        media = UNCOMPRESSED.get(layer.get("mediaType"), MT_LAYER)
        return {"mediaType": media, "digest": diff_id, "size": os.path.getsize(path)}, path

    def export_manifest(self, digest):
        """(manifest digest, manifest bytes, [(layer descriptor, path)]) of an image as a push or a save sends it:
        the stored manifest, or, when a layer is given uncompressed (export_layer), a manifest naming that."""
        import json

        with open(self.blob_path(digest, verify=False), "rb") as handle:
            data = handle.read()
        manifest = jsonio.loads(data)
        originals = manifest.get("layers") or []
        layers = [self.export_layer(layer) for layer in originals]
        if all(layers[i][0] is originals[i] for i in range(len(originals))):
            return digest, data, layers
        manifest["layers"] = [d for d, _ in layers]
        data = json.dumps(manifest, sort_keys=True).encode()
        return "sha256:" + sha256(data).hexdigest(), data, layers

    def _rebuild_blob(self, hexd, expect=None):
        """The blob of a layer kept as unpacked files and a split file, written again (checked, then moved into
        place; the split file is then dropped). With `expect`, the layer was compressed: the tar rebuilt is
        checked against that (its diff_id), stored under it, and the split file is kept."""
        import tempfile

        from hostprep.runtime import tarsplit

        split = self._split(hexd)
        fd, tmp = tempfile.mkstemp(dir=self.blobs, prefix=".tmp-")
        try:
            h = sha256()

            class _Hashing:
                def __init__(self, out):
                    self.out = out

                def write(self, data):
                    h.update(data)
                    self.out.write(data)

            with os.fdopen(fd, "wb") as out:
                tarsplit.rebuild(split, os.path.join(self.layers, hexd, "root"), _Hashing(out))
            if h.hexdigest() != (expect or hexd):
                raise ImageError("layer sha256:{} cannot be rebuilt from its files (sha256 {})".format(
                    hexd, h.hexdigest()))
            os.replace(tmp, os.path.join(self.blobs, expect or hexd))
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        if expect:
            return
        for leftover in (split, split + ".paths"):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass

    def layer_dirs(self, manifest):
        return distinct_layers([self.unpacked(layer["digest"]) for layer in manifest["layers"]])

    # -- writing images ----------------------------------------------------------------------
    def commit(self, ref, layer_files, config=None, diff_ids=None):
        """Store layers (uncompressed tars) and a config under `ref`; returns the manifest digest.

        A layer is a tar file's path, or the descriptor ({"digest", "size"}) of a layer the store has already
        (an import unpacks a tar as it reads it: unpack_stream). The caller holds lock(). A layer that cannot be
        unpacked safely fails the commit, and then no blob of it stays behind (gc: nothing names them).
        """
        import json
        import time

        from hostprep.runtime import refs

        ref = refs.check_image_name(ref)
        layers = []
        ids = []
        for i, path in enumerate(layer_files):
            if isinstance(path, dict):
                digest, size = path["digest"], path["size"]
                if not self.has_blob(digest):
                    raise ImageError("layer {} is not in the store".format(digest))
            else:
                digest, size = self.put_blob_file(path)
            layers.append({"mediaType": MT_LAYER, "digest": digest, "size": size})
            ids.append(diff_ids[i] if diff_ids else digest)
        cfg = {"architecture": "amd64", "os": "linux", "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "config": {"Env": ["PATH=" + DEFAULT_PATH]}, "rootfs": {"type": "layers", "diff_ids": ids}}
        if config:
            cfg["config"].update({k: v for k, v in config.items() if v is not None})
        cfg_digest, cfg_size = self.put_blob(json.dumps(cfg, sort_keys=True).encode())
        manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
                    "config": {"mediaType": MT_CONFIG, "digest": cfg_digest, "size": cfg_size}, "layers": layers}
        m_digest, m_size = self.put_blob(json.dumps(manifest, sort_keys=True).encode())
        for layer in layers:
            self.unpacked(layer["digest"])
        self.set_ref(ref, m_digest, m_size)
        return m_digest


class BlobNeeded(Exception):
    """A pulled plain-tar layer whose split file cannot stand for its blob (a file was replaced later)."""


def _same_file(path, size, ino):
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat_isreg(st.st_mode) and st.st_size == size and st.st_ino == ino


def stat_isreg(mode):
    import stat

    return stat.S_ISREG(mode)


def distinct_layers(dirs):
    """Layer directories (bottom first) with each one only at its topmost place: an image may hold the same
    layer twice (a RUN that changes nothing after a COPY gives the COPY's layer again), and overlayfs refuses
    a lower directory given twice ("conflicting lowerdir path", ELOOP). Dropping the lower copy changes
    nothing: every path it has, the same layer above has too, with the same content."""
    seen = set()
    out = []
    for d in reversed(dirs):
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out[::-1]


def check_digest(digest):
    """The hex part of a sha256 digest; ImageError for anything else (a digest names a file in the store)."""
    algo, _, hexd = str(digest).partition(":")
    if algo != "sha256" or len(hexd) != 64 or hexd.strip("0123456789abcdef"):
        raise ImageError("unsupported or malformed digest {!r} (sha256:<64 hex digits>)".format(digest))
    return hexd


def disk_usage(path):
    """Bytes a file tree takes on disk (allocated blocks), without following symlinks; 0 when missing."""
    total = 0
    try:
        st = os.lstat(path)
    except OSError:
        return 0
    total += st.st_blocks * 512
    if stat_isdir(st.st_mode):
        try:
            entries = list(os.scandir(path))
        except OSError:
            return total
        for entry in entries:
            total += disk_usage(entry.path)
    return total


def stat_isdir(mode):
    return mode & 0o170000 == 0o040000


def _read_bytes(path, missing):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ImageError(missing)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)
