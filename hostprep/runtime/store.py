"""Images as an OCI image layout under the runtime's root, with unpacked layers for overlayfs.

Blobs are content-addressed (sha256) and checked when written and before use; an image name is
the `org.opencontainers.image.ref.name` annotation of its manifest in index.json.
"""

import os

from hostprep.runtime import jsonio

REF = "org.opencontainers.image.ref.name"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"
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
            fd, tmp = tempfile.mkstemp(dir=self.blobs)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        return "sha256:" + digest, len(data)

    def put_blob_file(self, src):
        """Copy a file into the blob store, hashing as it goes; returns (digest, size)."""
        import tempfile

        h = sha256()
        fd, tmp = tempfile.mkstemp(dir=self.blobs)
        size = 0
        with open(src, "rb") as inp, os.fdopen(fd, "wb") as out:
            while True:
                chunk = inp.read(1 << 20)
                if not chunk:
                    break
                h.update(chunk)
                out.write(chunk)
                size += len(chunk)
        path = os.path.join(self.blobs, h.hexdigest())
        os.replace(tmp, path)
        return "sha256:" + h.hexdigest(), size

    def blob_path(self, digest, verify=True):
        algo, _, hexd = digest.partition(":")
        if algo != "sha256" or not hexd:
            raise ImageError("unsupported digest {}".format(digest))
        path = os.path.join(self.blobs, hexd)
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
        algo, _, hexd = digest.partition(":")
        if algo != "sha256" or not hexd:
            raise ImageError("unsupported digest {}".format(digest))
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
        kept = [m for m in idx["manifests"] if m.get("annotations", {}).get(REF) != ref]
        if len(kept) == len(idx["manifests"]):
            raise ImageError("no such image: {}".format(ref))
        idx["manifests"] = kept
        _atomic_json(self._index_path(), idx)

    def images(self):
        out = []
        for m in self.index()["manifests"]:
            ref = m.get("annotations", {}).get(REF)
            if ref:
                out.append((ref, m["digest"]))
        return out

    def resolve(self, ref):
        """(manifest, config) of an image by name, id prefix or digest."""
        ref_n = normalize_ref(ref)
        for name, digest in self.images():
            if name == ref_n or digest == ref or digest.split(":")[1].startswith(ref):
                manifest = self.read_json(digest)
                return manifest, self.read_json(manifest["config"]["digest"])
        raise ImageError("no such image: {}".format(ref))

    # -- layers ----------------------------------------------------------------------------
    def unpacked(self, layer_digest):
        """The unpacked directory of a layer blob (unpacked once, after checking the blob)."""
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
            tarsafe.extract(self.blob_path(layer_digest), os.path.join(target, "root"), whiteouts=True)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        with open(os.path.join(target, ".complete"), "w"):
            pass
        return os.path.join(target, "root")

    def layer_dirs(self, manifest):
        return [self.unpacked(layer["digest"]) for layer in manifest["layers"]]

    # -- writing images ----------------------------------------------------------------------
    def commit(self, ref, layer_files, config=None, diff_ids=None):
        """Store layers (uncompressed tars) and a config under `ref`; returns the manifest digest."""
        import json
        import tarfile
        import time

        from hostprep.runtime import tarsafe

        layers = []
        ids = []
        for i, path in enumerate(layer_files):
            with open(path, "rb") as handle, tarfile.open(fileobj=handle, mode="r:*") as archive:
                tarsafe.check_members(archive.getmembers())
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
        try:
            for layer in layers:
                self.unpacked(layer["digest"])
        except BaseException:
            for layer in layers:  # a layer that cannot be unpacked safely is not kept at all
                if not any(layer["digest"] in json.dumps(self.read_json(d)) for _, d in self.images()):
                    try:
                        os.unlink(self.blob_path(layer["digest"], verify=False))
                    except (OSError, ImageError):
                        pass
            raise
        self.set_ref(ref, m_digest, m_size)
        return m_digest


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
