"""`pull`, `push`, `login`: the OCI distribution protocol over HTTP(S) with urllib (distribution's spec, read
for the rules).

- Manifests: OCI image manifests and Docker v2 schema 2 manifests are stored as received (their digest is
  the registry's); an OCI image index or Docker manifest list is resolved to this host's platform.
- Blobs are streamed to a temporary file in the store while they are hashed; only a blob whose sha256 matches
  its digest is moved into place, and the image is named only once every blob of it is there. A download cut
  short is resumed with a Range request (and hashed on), up to RETRIES times; 5xx answers are retried too.
- Uploads: HEAD first (a blob the repository has is not sent again), then a cross-repository mount from a
  repository of the same registry the blob was pulled from or pushed to (ROOT/registry-blobs.json), then
  a monolithic PUT, or PATCH chunks of CHUNK bytes and a closing PUT for blobs larger than that.
- Auth as Docker does it: anonymous first; a 401's WWW-Authenticate challenge says Basic (the stored
  credentials are sent) or Bearer (a token is fetched from its realm for the scope, with the credentials if
  there are any). Credentials and tokens are never printed.
"""

import hashlib
import http.client
import json
import os
import platform
import time

from hostprep.runtime import auth, tarsplit
from hostprep.runtime.store import BlobNeeded, ImageError, check_digest

# OpenSSL's sha256 (hashlib): several times faster on large blobs than the builtin module the run path uses
sha256 = hashlib.sha256

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT = ", ".join((MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST, MT_DOCKER_LIST))
DEFAULT_REGISTRY = "registry-1.docker.io"
RETRIES = 3
CHUNK = 16 << 20
MAX_MANIFEST = 4 << 20


class RegistryError(Exception):
    """A registry that refused or failed; the message has its answer (never credentials)."""


def split_ref(ref):
    """(registry host, repository, tag or None, digest or None) of an image reference."""
    from hostprep.runtime import refs

    domain, path, tag, digest = refs.parse_image_ref(ref)
    if domain is None or domain == "docker.io":
        domain = DEFAULT_REGISTRY
        if "/" not in path:
            path = "library/" + path
    if tag is None and digest is None:
        tag = "latest"
    return domain, path, tag, digest


def host_platform():
    machine = platform.machine()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(machine, machine)
    return "linux", arch


class Client:
    """One registry: its scheme, TLS context, credentials and the bearer tokens it gave, by scope."""

    def __init__(self, root, host, plain_http=False, chunk=CHUNK, out=None):
        self.root = root
        self.host = host
        self.plain = plain_http or auth.insecure(root, host)
        self.base = ("http://" if self.plain else "https://") + host
        self.context = None if self.plain else auth.ssl_context(root, host)
        self.creds = auth.credentials(root, host)
        self.tokens = {}
        self.basic = False
        self.chunk = chunk
        self.out = out

    # -- HTTP --------------------------------------------------------------------------------------------------
    def request(self, method, path, scope=None, headers=None, data=None, ok=(200,), stream=False):
        """The response to a request (retried on 5xx and connection errors, authenticated on 401)."""
        import urllib.error
        import urllib.request

        url = path if path.startswith("http") else self.base + path
        attempt = 0
        authed = False
        while True:
            hdrs = dict(headers or {})
            token = self.tokens.get(scope)
            if token:
                hdrs["Authorization"] = "Bearer " + token
            elif self.basic and self.creds:
                hdrs["Authorization"] = _basic(self.creds)
            body = data() if callable(data) else data
            if hasattr(body, "seek"):  # a file sent again (after a 401 or an error) goes from its start
                body.seek(0)
            req = urllib.request.Request(url, data=body, headers=hdrs, method=method)
            try:
                resp = self._opener().open(req, timeout=60)
            except urllib.error.HTTPError as exc:
                if exc.code == 401 and not authed:
                    authed = True
                    self._authenticate(exc.headers.get("WWW-Authenticate", ""), scope)
                    continue
                if exc.code in ok:
                    return exc
                if exc.code >= 500 and attempt < RETRIES:
                    attempt += 1
                    time.sleep(0.5 * attempt)
                    continue
                raise RegistryError("{} {}: {} {}".format(method, _shown_url(url), exc.code, _error_text(exc)))
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                if _is_tls(reason):
                    raise RegistryError("{}: TLS verification failed ({}); put the registry's CA in "
                                        "certs.d/{}/ca.crt".format(self.host, reason, self.host))
                if attempt < RETRIES:
                    attempt += 1
                    time.sleep(0.5 * attempt)
                    continue
                raise RegistryError("{} {}: {}".format(method, _shown_url(url), reason))
            if resp.status not in ok:
                raise RegistryError("{} {}: unexpected answer {}".format(method, _shown_url(url), resp.status))
            return resp

    def _opener(self):
        import urllib.request

        handlers = [_NoRedirectForWrites()]
        if self.context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=self.context))
        return urllib.request.build_opener(*handlers)

    def _authenticate(self, challenge, scope):
        kind, _, params = challenge.partition(" ")
        kind = kind.lower()
        if kind == "basic":
            if not self.creds:
                raise RegistryError("{} asks for a login: hostprep-runtime login {}".format(self.host, self.host))
            self.basic = True
            return
        if kind != "bearer":
            raise RegistryError("{}: unsupported authentication challenge {!r}".format(self.host, kind))
        fields = _challenge_params(params)
        if "realm" not in fields:
            raise RegistryError("{}: bearer challenge without a realm".format(self.host))
        import urllib.parse

        query = {}
        if fields.get("service"):
            query["service"] = fields["service"]
        if scope or fields.get("scope"):
            query["scope"] = scope or fields["scope"]
        url = fields["realm"] + ("?" + urllib.parse.urlencode(query) if query else "")
        import urllib.request

        headers = {"Authorization": _basic(self.creds)} if self.creds else {}
        try:
            resp = self._opener().open(urllib.request.Request(url, headers=headers), timeout=60)
            answer = json.loads(resp.read(1 << 20).decode("utf-8"))
        except Exception as exc:  # noqa: BLE001 - any failure of the token service is reported as one
            raise RegistryError("{}: no token from {}: {}".format(self.host, fields["realm"],
                                                                 getattr(exc, "code", exc)))
        token = answer.get("token") or answer.get("access_token")
        if not token:
            raise RegistryError("{}: the token service gave no token".format(self.host))
        self.tokens[scope] = token

    # -- the protocol ------------------------------------------------------------------------------------------
    def ping(self):
        self.request("GET", "/v2/", ok=(200,))

    def get_manifest(self, repo, reference):
        resp = self.request("GET", "/v2/{}/manifests/{}".format(repo, reference), scope=_scope(repo, "pull"),
                            headers={"Accept": ACCEPT})
        data = resp.read(MAX_MANIFEST + 1)
        if len(data) > MAX_MANIFEST:
            raise RegistryError("{}: manifest larger than {} bytes".format(repo, MAX_MANIFEST))
        media = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
        return data, media

    def fetch_blob(self, repo, digest, dest_dir, partial=None):
        """The blob streamed into a temporary file in dest_dir and checked; returns its path (caller moves it).
        partial: (path, sha256 so far, size) of a download cut short, continued from there."""
        import tempfile

        hexd = check_digest(digest)
        if partial:
            tmp, h, size = partial
            out = open(tmp, "ab")  # noqa: SIM115 - closed in the with below
        else:
            fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=".pull-")
            out = os.fdopen(fd, "wb")
            h = sha256()
            size = 0
        attempt = 0
        try:
            with out:
                while True:
                    headers = {"Range": "bytes={}-".format(size)} if size else {}
                    resp = self.request("GET", "/v2/{}/blobs/{}".format(repo, digest), scope=_scope(repo, "pull"),
                                        headers=headers, ok=(200, 206))
                    if size and resp.status == 200:  # the registry ignored the range: start over
                        out.seek(0)
                        out.truncate()
                        h, size = sha256(), 0
                    try:
                        while True:
                            chunk = resp.read(1 << 20)
                            if not chunk:
                                break
                            out.write(chunk)
                            h.update(chunk)
                            size += len(chunk)
                        expected = resp.headers.get("Content-Length")
                        if resp.status == 200 and expected is not None and int(expected) != size:
                            raise OSError("cut short at {} of {} bytes".format(size, expected))
                        break
                    except (OSError, http.client.HTTPException) as exc:  # cut short: resumed from `size`
                        attempt += 1
                        if attempt > RETRIES:
                            raise RegistryError("blob {}: {}".format(digest, exc))
            if h.hexdigest() != hexd:
                raise RegistryError("blob {} from {}/{}: its content has sha256 {} (refused)".format(
                    digest, self.host, repo, h.hexdigest()))
        except BaseException:
            os.unlink(tmp)
            raise
        return tmp

    def fetch_layer(self, repo, digest, store, diff_id=None):
        """A layer in one pass (_LayerStream): fetched, hashed, inflated if it is gzip, and unpacked as it
        arrives, and kept once, as its unpacked files plus a split file of the tar's other bytes (tarsplit.py;
        store.unpack_stream). Nothing is moved into place before the whole blob has the digest's sha256 (and a
        gzip layer's tar the config's diff_id). A layer that cannot be kept so (another compression, a registry
        that ignores Range, a tar that writes a path twice) is fetched whole into its blob and unpacked from it."""
        import tempfile

        hexd = check_digest(digest)
        fd, tmp = tempfile.mkstemp(dir=store.blobs, prefix=".pull-", suffix=".split")
        os.close(fd)
        stream = _LayerStream(self, repo, digest, tmp, diff_id)
        try:
            try:
                stream.start()
                store.unpack_stream(digest, stream, stream.finish)
                return
            except (_NoResume, _NotStreamable, BlobNeeded):
                pass  # the whole blob again, then unpacked from it
            finally:
                stream.close()
                for leftover in (tmp, tmp + ".paths"):
                    if os.path.exists(leftover):
                        os.unlink(leftover)
            path = self.fetch_blob(repo, digest, store.blobs)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        os.replace(path, os.path.join(store.blobs, hexd))
        store.unpacked(digest, verify=False)  # hashed as it arrived

    def has_blob(self, repo, digest):
        resp = self.request("HEAD", "/v2/{}/blobs/{}".format(repo, digest), scope=_scope(repo, "pull,push"),
                            ok=(200, 404))
        return resp.status == 200

    def reuse_blob(self, repo, digest, mount_from=None):
        """"exists" when the repository has the blob, "mounted" when a cross-repository mount gave it, else None."""
        if self.has_blob(repo, digest):
            return "exists"
        if not mount_from:
            return None
        resp = self._mount(repo, digest, mount_from)
        if resp.status == 201:
            return "mounted"
        self.request("DELETE", self._absolute(resp.headers["Location"]), scope=_scope(repo, "pull,push"),
                     ok=(204, 404))  # the upload the registry opened instead is not wanted
        return None

    def _mount(self, repo, digest, mount_from):
        import urllib.parse

        query = urllib.parse.urlencode({"mount": digest, "from": mount_from})
        return self.request("POST", "/v2/{}/blobs/uploads/?{}".format(repo, query), scope=_scope(repo, "pull,push"),
                            data=b"", ok=(201, 202))

    def upload_blob(self, repo, digest, path, mount_from=None):
        """Upload a blob unless the repository has it; returns "exists", "mounted" or "uploaded"."""
        if self.has_blob(repo, digest):
            return "exists"
        scope = _scope(repo, "pull,push")
        if mount_from:
            resp = self._mount(repo, digest, mount_from)
            if resp.status == 201:
                return "mounted"
            location = resp.headers["Location"]
        else:
            resp = self.request("POST", "/v2/{}/blobs/uploads/".format(repo), scope=scope, data=b"", ok=(202,))
            location = resp.headers["Location"]
        location = self._absolute(location)
        size = os.path.getsize(path)
        if size > self.chunk:
            offset = 0
            with open(path, "rb") as handle:
                while offset < size:
                    part = handle.read(self.chunk)
                    end = offset + len(part) - 1
                    resp = self.request("PATCH", location, scope=scope, data=part, ok=(202,),
                                        headers={"Content-Type": "application/octet-stream",
                                                 "Content-Range": "{}-{}".format(offset, end),
                                                 "Content-Length": str(len(part))})
                    location = self._absolute(resp.headers.get("Location") or location)
                    offset = end + 1
            body, length = b"", 0
            self.request("PUT", _with_digest(location, digest), scope=scope, data=body, ok=(201,),
                         headers={"Content-Length": str(length), "Content-Type": "application/octet-stream"})
            return "uploaded"

        def stream():
            return open(path, "rb")
        handle = stream()
        try:
            self.request("PUT", _with_digest(location, digest), scope=scope, data=handle, ok=(201,),
                         headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"})
        finally:
            handle.close()
        return "uploaded"

    def put_manifest(self, repo, reference, data, media):
        self.request("PUT", "/v2/{}/manifests/{}".format(repo, reference), scope=_scope(repo, "pull,push"),
                     data=data, ok=(201,), headers={"Content-Type": media})

    def _absolute(self, location):
        if location.startswith("http://") or location.startswith("https://"):
            return location
        return self.base + location


class _NoResume(Exception):
    """A registry that answered a Range request with the whole blob."""


class _NotStreamable(Exception):
    """A layer that is neither a plain tar nor gzip (bzip2, xz, zstd): fetched whole, then unpacked from its blob."""


class _Stopped(Exception):
    """The unpacker gave up: the fetching thread ends."""


class _LayerStream(tarsplit.SplitStream):
    """A layer blob as the unpacker reads it, in one pass.

    A fetching thread reads the response (one cut short goes on with a Range request from the bytes already
    read), hashes it (the layer's digest), inflates a gzip layer and hashes the tar it gives (the config's
    diff_id), and hands the plain tar on in chunks through a queue of QUEUED chunks: memory stays bounded, and
    the network, the hashing and the inflating overlap with the unpacker's writes (hashlib and zlib release the
    GIL). Every byte of the tar goes through tarsplit.Splitter, which keeps in the split file all but the
    regular files' data: a layer, plain or gzip, is written once, as its unpacked files (the compressed bytes
    are not kept). The unpacker (tarfile in seekable mode over this object: forward seeks only) reads headers
    with read(), and regular files' data go from the chunks straight to their files (copy_to)."""

    QUEUED = 8

    def __init__(self, client, repo, digest, split_path, diff_id=None):
        super().__init__()
        self.client, self.repo, self.digest, self.diff_id = client, repo, digest, diff_id
        self.split_path = split_path
        self.name = None
        self.queue = None
        self.thread = None
        self.stop = False
        # the fetching thread's
        self.resp = None
        self.hash = sha256()
        self.plain_hash = None
        self.inflate = None
        self.size = 0
        self.total = None
        self.attempt = 0

    def _get(self, headers=None):
        return self.client.request("GET", "/v2/{}/blobs/{}".format(self.repo, self.digest),
                                   scope=_scope(self.repo, "pull"), headers=headers, ok=(200, 206))

    def start(self):
        import queue
        import threading
        import zlib  # noqa: F401 - imported here, not first in the thread: see below

        # every module the fetching thread uses is imported before it starts: a module the unpacker imports
        # while the thread imports it too was seen half-initialised on a loaded host (Python 3.9, zipimport:
        # "module 'hostprep.runtime.tarsafe' has no attribute 'extract_fileobj'")
        from hostprep.runtime import tarsafe, tarsplit  # noqa: F401

        self.resp = self._get()
        length = self.resp.headers.get("Content-Length")
        self.total = int(length) if length is not None else None
        self.splitter = tarsplit.Splitter(open(self.split_path, "wb"))  # noqa: SIM115 - close()
        self.queue = queue.Queue(self.QUEUED)
        self.thread = threading.Thread(target=self._fetch, name="layer-fetch")
        self.thread.daemon = True
        self.thread.start()

    # -- the fetching thread -------------------------------------------------------------------------------------
    def _read_raw(self):
        """The next CHUNK bytes of the blob (fewer only at its end), continued with Range when cut short."""
        buf = bytearray(self.CHUNK)
        view = memoryview(buf)
        got = 0
        while got < len(buf) and not self.stop:
            try:
                n = self.resp.readinto(view[got:])
                if not n and self.total is not None and self.size + got < self.total:
                    raise OSError("cut short at {} of {} bytes".format(self.size + got, self.total))
            except (OSError, http.client.HTTPException) as exc:
                self.attempt += 1
                if self.attempt > RETRIES:
                    raise RegistryError("blob {}: {}".format(self.digest, exc))
                self.resp = self._get({"Range": "bytes={}-".format(self.size + got)})
                if self.resp.status != 206:
                    raise _NoResume()
                continue
            if not n:
                break
            got += n
        view.release()
        del buf[got:]
        return buf

    def _put(self, item):
        import queue

        while True:
            if self.stop:
                raise _Stopped()
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _fetch(self):
        import zlib

        from hostprep.runtime import tarsafe, tarsplit

        try:
            first = True
            while not self.stop:
                chunk = self._read_raw()
                if not chunk:
                    break
                self.hash.update(chunk)
                self.size += len(chunk)
                if first:
                    first = False
                    if chunk[:2] == b"\x1f\x8b":
                        self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                        self.plain_hash = sha256()
                    elif not tarsplit.is_plain_tar(bytes(chunk[:tarsplit.BLOCK])):
                        raise _NotStreamable()
                if self.inflate is None:
                    self._put(chunk)
                    continue
                data = chunk
                try:
                    while data:
                        if self.inflate.eof:  # one gzip member ended, another follows
                            self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                        out = self.inflate.decompress(data, self.CHUNK)  # bounded: a bomb stays a stream
                        data = self.inflate.unused_data if self.inflate.eof else self.inflate.unconsumed_tail
                        if out:
                            self.plain_hash.update(out)
                            self._put(out)
                except zlib.error as exc:
                    raise tarsafe.BrokenArchive("layer {}: gzip: {}".format(self.digest, exc))
            if self.inflate is not None and not self.inflate.eof and not self.stop:
                raise tarsafe.BrokenArchive("layer {}: the gzip stream is cut short".format(self.digest))
            self._put(None)
        except _Stopped:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the unpacker, which raises it
            try:
                self._put(exc)
            except _Stopped:
                pass

    # -- the unpacker's side (tarsplit.SplitStream: read, copy_to, seek) ------------------------------------------
    def _take(self):
        item = self.queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def finish(self):
        """Reads the rest of the blob (a tar's trailing padding) and checks it; returns (split file path, the
        number of regular files it counts, the diff_id of a gzip layer or None)."""
        self.drain()
        self.thread.join()
        if self.total is not None and self.total != self.size:
            raise RegistryError("blob {}: {} bytes of {}".format(self.digest, self.size, self.total))
        if self.hash.hexdigest() != check_digest(self.digest):
            raise RegistryError("blob {} from {}/{}: its content has sha256 {} (refused)".format(
                self.digest, self.client.host, self.repo, self.hash.hexdigest()))
        diff_id = None
        if self.plain_hash is not None:
            diff_id = "sha256:" + self.plain_hash.hexdigest()
            if self.diff_id is not None and diff_id != self.diff_id:
                raise RegistryError("layer {} from {}/{}: its uncompressed content has {}, the config says {} "
                                    "(refused)".format(self.digest, self.client.host, self.repo, diff_id,
                                                       self.diff_id))
        self.close_split()
        return self.split_path, self.splitter.files, diff_id

    def close(self):
        self.stop = True
        if self.thread is not None:
            import queue

            while True:  # a thread waiting to put a chunk sees `stop` within its put timeout
                try:
                    self.queue.get_nowait()
                except queue.Empty:
                    break
            self.thread.join(5)
        if self.splitter is not None and not self.splitter.out.closed:
            self.splitter.out.close()


def _with_digest(location, digest):
    return location + ("&" if "?" in location else "?") + "digest=" + digest


def _scope(repo, actions):
    return "repository:{}:{}".format(repo, actions)


def _basic(creds):
    import base64

    return "Basic " + base64.b64encode("{}:{}".format(*creds).encode()).decode()


def _challenge_params(text):
    import re

    return {m.group(1).lower(): m.group(2) for m in re.finditer(r'(\w+)="([^"]*)"', text)}


def _error_text(exc):
    try:
        data = json.loads(exc.read(65536).decode("utf-8"))
        return "; ".join("{}: {}".format(e.get("code"), e.get("message")) for e in data.get("errors") or [])
    except Exception:  # noqa: BLE001 - a body that is not the registry's JSON: its reason is enough
        return exc.reason or ""


def _shown_url(url):
    return url.split("?")[0]


def _is_tls(reason):
    import ssl

    return isinstance(reason, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(reason)


def _NoRedirectForWrites():
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):
            if req.get_method() not in ("GET", "HEAD"):
                return None
            new = urllib.request.HTTPRedirectHandler.redirect_request(self, req, fp, code, msg, headers, newurl)
            if new is not None and new.host != req.host:
                new.remove_header("Authorization")  # never hand credentials to another host (a blob store)
            return new
    return NoRedirect()


# -- records of where blobs live (for cross-repository mounts) -----------------------------------------------------
def _blob_record_path(root):
    return os.path.join(root, "registry-blobs.json")


def _load_records(root):
    try:
        with open(_blob_record_path(root), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def _remember(root, host, repo, digests):
    records = _load_records(root)
    for digest in digests:
        repos = records.setdefault(digest, [])
        entry = host + "/" + repo
        if entry not in repos:
            repos.append(entry)
    tmp = _blob_record_path(root) + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(records, handle, sort_keys=True)
    os.replace(tmp, _blob_record_path(root))


def _mount_source(root, host, repo, digest):
    for entry in _load_records(root).get(digest, []):
        h, _, r = entry.partition("/")
        if h == host and r != repo:
            return r
    return None


# -- pull and push --------------------------------------------------------------------------------------------------
def pull(store, root, ref, plain_http=False, out=None):
    """Pull an image into the store under its full reference; returns the manifest digest."""
    host, repo, tag, digest = split_ref(ref)
    client = Client(root, host, plain_http)
    data, media = client.get_manifest(repo, digest or tag)
    if digest and sha256(data).hexdigest() != check_digest(digest):
        raise RegistryError("manifest of {}: its content does not have digest {}".format(ref, digest))
    manifest = _json(data, "manifest of " + ref)
    media = manifest.get("mediaType") or media
    if media in (MT_OCI_INDEX, MT_DOCKER_LIST) or "manifests" in manifest:
        chosen = _choose_platform(manifest, ref)
        data, media = client.get_manifest(repo, chosen)
        if sha256(data).hexdigest() != check_digest(chosen):
            raise RegistryError("manifest {} of {}: content does not match its digest".format(chosen, ref))
        manifest = _json(data, "manifest of " + ref)
        media = manifest.get("mediaType") or media
    if media not in (MT_OCI_MANIFEST, MT_DOCKER_MANIFEST):
        raise RegistryError("{}: unsupported manifest type {!r} (OCI and Docker v2 schema 2 are)".format(ref, media))
    lock = store.lock()
    try:
        blobs = [manifest["config"]] + list(manifest.get("layers") or [])
        config_digest = manifest["config"]["digest"]
        if not store.has_blob(config_digest):
            if out:
                out.write("Copying blob {}\n".format(config_digest[:19]))
                out.flush()
            os.replace(client.fetch_blob(repo, config_digest, store.blobs),
                       os.path.join(store.blobs, check_digest(config_digest)))
        config = store.read_json(config_digest)
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if len(manifest.get("layers") or []) != len(diff_ids):
            raise RegistryError("{}: the config's diff_ids do not match the manifest's layers".format(ref))
        for i, layer in enumerate(manifest.get("layers") or []):
            d = layer["digest"]
            if store.has_blob(d):
                continue
            if out:
                out.write("Copying blob {}\n".format(d[:19]))
                out.flush()
            client.fetch_layer(repo, d, store, diff_ids[i])  # hashed, unpacked and kept in one pass
        m_digest, m_size = store.put_blob(data)
        for layer in manifest.get("layers") or []:
            store.unpacked(layer["digest"], verify=False)  # hashed as it arrived (fetch_blob)
        name = "{}/{}:{}".format(host, repo, tag) if tag else "{}/{}@{}".format(host, repo, digest)
        if tag:
            store.set_ref(name, m_digest, m_size)
        else:
            store.set_ref("{}/{}:{}".format(host, repo, "pulled-" + check_digest(digest)[:12]), m_digest, m_size)
        _remember(root, host, repo, [b["digest"] for b in blobs])
    finally:
        lock.close()
    return m_digest


def push(store, root, src, dest=None, plain_http=False, chunk=CHUNK, out=None):
    """Push a local image to DEST (or to its own name); returns the manifest digest."""
    digest = store.lookup(src)
    host, repo, tag, ref_digest = split_ref(dest or src)
    if ref_digest:
        raise RegistryError("push to a digest is not possible: name a tag")
    client = Client(root, host, plain_http, chunk=chunk)
    data = _read_blob(store, digest)
    manifest = _json(data, "manifest")
    media = manifest.get("mediaType") or MT_OCI_MANIFEST
    sent = []
    layers = []
    for blob in [manifest["config"]] + list(manifest.get("layers") or []):
        d = blob["digest"]
        how = None
        if blob is not manifest["config"] and store.layer_diff_id(d) is not None and \
                not os.path.exists(os.path.join(store.blobs, check_digest(d))):
            # pulled compressed and kept as its files: the registry may have the compressed blob (or mount it
            # from where it was pulled); if not, the layer goes uncompressed and the manifest says so
            how = client.reuse_blob(repo, d, _mount_source(root, host, repo, d))
            if how is None:
                blob, path = store.export_layer(blob)
                d = blob["digest"]
        if how is None:
            path = store.blob_path(d, verify=False)  # the registry checks the digest of what it is sent
            how = client.upload_blob(repo, d, path, _mount_source(root, host, repo, d))
        sent.append(d)
        if blob is not manifest["config"]:
            layers.append(blob)
        if out:
            out.write("{} blob {}\n".format({"exists": "Skipped (exists)", "mounted": "Mounted",
                                             "uploaded": "Copied"}[how], d[:19]))
            out.flush()
    if any(a is not b for a, b in zip(layers, manifest.get("layers") or [])):  # noqa: B905 - same length
        manifest["layers"] = layers
        data = json.dumps(manifest, sort_keys=True).encode()
        digest = "sha256:" + sha256(data).hexdigest()
    client.put_manifest(repo, tag, data, media)
    _remember(root, host, repo, sent)
    if out:
        out.write("{}/{}:{}@{}\n".format(host, repo, tag, digest))
    return digest


def login(root, host, user, password, plain_http=False):
    """Check the credentials against the registry, then store them (0600)."""
    client = Client(root, host, plain_http)
    client.creds = (user, password)
    client.ping()
    auth.store_credentials(root, host, user, password)


def _read_blob(store, digest):
    with open(store.blob_path(digest), "rb") as handle:
        return handle.read()


def _json(data, what):
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise RegistryError("{} is not JSON".format(what))
    if not isinstance(value, dict):
        raise RegistryError("{} is not a JSON object".format(what))
    return value


def _choose_platform(index, ref):
    want_os, want_arch = host_platform()
    for entry in index.get("manifests") or []:
        plat = entry.get("platform") or {}
        if plat.get("os") == want_os and plat.get("architecture") == want_arch:
            return entry["digest"]
    shown = ", ".join("{}/{}".format((e.get("platform") or {}).get("os"), (e.get("platform") or {}).get("architecture"))
                      for e in index.get("manifests") or [])
    raise RegistryError("{}: no image for {}/{} (the index has {})".format(ref, want_os, want_arch, shown or "none"))


__all__ = ["pull", "push", "login", "RegistryError", "ImageError"]
