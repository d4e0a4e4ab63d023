"""`cp` between a container and the host, and `commit` of a container's changes to an image.

cp: a tar stream through a pipe between the host and a child process that works inside the container's root
(the running container's mount namespace and root, or, for a stopped one, its overlay and volumes mounted in a
private mount namespace), so every path inside the container resolves as the container resolves it and no link
can lead out of it. What comes out of a container is unpacked on the host by tarsafe (no member outside the
destination). Docker's rules: `SRC/.` copies a directory's content; a destination that is an existing directory
receives SRC under its own name; files copied into a container are owned by its root, files copied out by the
caller (-a keeps the owners of the source either way).

commit: the container's upper layer as a layer tar (OCI whiteouts for deletions; the runtime's own /etc files
and mount points left out, as a build's RUN does), on top of the image's layers, with the container's command,
entrypoint and environment and any `-c` Dockerfile-style changes.
"""

import json
import os
import sys
import tarfile
import time

from hostprep.runtime import linux
from hostprep.runtime.state import RunError, containers_dir, find


def _split(arg):
    """("container ref", path) or (None, host path); a host path with ':' before any '/' needs ./ first."""
    head, sep, tail = arg.partition(":")
    if sep and head and "/" not in head and not arg.startswith((".", "/")):
        return head, tail or "/"
    return None, arg


def cp(root, source, destination, archive=False):
    src_ctr, src = _split(source)
    dst_ctr, dst = _split(destination)
    if (src_ctr is None) == (dst_ctr is None):
        raise RunError("cp: exactly one of SOURCE and DESTINATION must be CONTAINER:PATH")
    if src_ctr is not None:
        _out_of(root, find(root, src_ctr), src, dst, archive)
    else:
        _into(root, find(root, dst_ctr), src, dst, archive)


def _enter(root, state):
    """In a forked child: be inside the container's root (its mount namespace when it runs)."""
    if state["status"] == "running":
        from hostprep.runtime.state import pid1_of

        pid1 = pid1_of(root, state)
        root_fd = os.open("/proc/{}/root".format(pid1), os.O_RDONLY)
        ns = os.open("/proc/{}/ns/mnt".format(pid1), os.O_RDONLY)
        linux.setns(ns, 0)
        os.close(ns)
        os.fchdir(root_fd)
        os.chroot(".")
        os.close(root_fd)
        os.chdir("/")
        return
    from hostprep.runtime import rootfs

    spec = state.get("start_spec")
    if not spec:
        raise RunError("container {} was made by an earlier version: no cp while it is stopped".format(
            state["name"]))
    spec = dict(spec, volatile=False)
    try:
        os.mkdir(spec["work"], 0o755)
    except FileExistsError:
        pass
    linux.unshare(linux.CLONE_NEWNS)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    rootfs.mount_overlay(spec)
    rootfs.mount_volumes(spec)
    os.chroot(".")
    os.chdir("/")


def _child(root, state, work):
    """Fork a child that enters the container and runs work(); returns its pid."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _enter(root, state)
            work()
        except BaseException as exc:  # noqa: BLE001 - reported on stderr, never back into the caller's code
            sys.stderr.write("hostprep-runtime: cp: {}\n".format(exc))
            sys.stderr.flush()
            code = 1
        os._exit(code)
    return pid


def _wait(pid):
    _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        raise RunError("cp failed")


def _out_of(root, state, src, dst, archive):
    import tempfile

    from hostprep.runtime import tarsafe

    contents = src.endswith("/.")
    name = os.path.basename(os.path.normpath(src)) or "root"
    r, w = os.pipe()

    def work():
        os.close(r)
        with os.fdopen(w, "wb") as out, tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            if not os.path.lexists(src):
                raise RunError("no such file or directory in the container: {}".format(src))
            tar.add(src, arcname=".") if contents else tar.add(src, arcname=name)

    pid = _child(root, state, work)
    os.close(w)
    target_dir = os.path.dirname(os.path.abspath(dst)) or "/"
    tmp = tempfile.mkdtemp(prefix=".hostprep-cp-", dir=target_dir)
    os.rmdir(tmp)  # tarsafe makes it (and removes it on failure)
    try:
        with os.fdopen(r, "rb") as stream:
            tarsafe.extract_fileobj(stream, tmp)
        _wait(pid)
        if not archive:
            _own_tree(tmp, os.getuid(), os.getgid())
        if contents:
            os.makedirs(dst, exist_ok=True)
            _merge(tmp, dst)
        else:
            final = os.path.join(dst, name) if os.path.isdir(dst) else dst
            _move(os.path.join(tmp, name), final)
    finally:
        from hostprep.runtime.state import rmtree

        rmtree(tmp)


def _own_tree(top, uid, gid):
    for dirpath, dirnames, filenames in os.walk(top):
        for n in dirnames + filenames:
            os.lchown(os.path.join(dirpath, n), uid, gid)


def _move(src, final):
    if os.path.isdir(final) and not os.path.islink(final) and os.path.isdir(src):
        _merge(src, final)
    else:
        os.replace(src, final)


def _merge(src_dir, dst_dir):
    for entry in os.listdir(src_dir):
        _move(os.path.join(src_dir, entry), os.path.join(dst_dir, entry))


def _into(root, state, src, dst, archive):
    if not os.path.lexists(src):
        raise RunError("no such file or directory: {}".format(src))
    contents = src.endswith("/.")
    name = os.path.basename(os.path.normpath(src))
    r, w = os.pipe()

    def work():
        os.close(w)
        into_dir = os.path.isdir(dst)
        if contents and not into_dir:
            os.makedirs(dst)
            into_dir = True
        base = dst if into_dir else os.path.dirname(dst) or "/"
        if not os.path.isdir(base):
            raise RunError("no such directory in the container: {}".format(base))
        with os.fdopen(r, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if member.name in (".", "./"):
                    continue
                if not into_dir:  # a new name for a file or directory: its top entry renamed
                    parts = member.name.split("/", 1)
                    member.name = os.path.basename(dst) + ("/" + parts[1] if len(parts) > 1 else "")
                if not archive:
                    member.uid = member.gid = 0
                member.uname = member.gname = ""
                tar.extract(member, base, numeric_owner=True)

    pid = _child(root, state, work)
    os.close(r)
    try:
        with os.fdopen(w, "wb") as out, tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            if contents:
                for entry in sorted(os.listdir(src)):
                    tar.add(os.path.join(src, entry), arcname=entry)
            else:
                tar.add(src, arcname=name)
    except BrokenPipeError:
        pass
    _wait(pid)


# -- commit --------------------------------------------------------------------------------------------------------
def _apply_change(config, line):
    word, _, value = line.strip().partition(" ")
    word = word.upper()
    value = value.strip()

    def argv(text):
        return json.loads(text) if text.startswith("[") else ["/bin/sh", "-c", text]

    if word in ("CMD", "ENTRYPOINT"):
        config["Cmd" if word == "CMD" else "Entrypoint"] = argv(value)
    elif word == "ENV":
        key, eq, val = value.partition("=")
        if not eq:
            key, _, val = value.partition(" ")
        env = [e for e in config.get("Env") or [] if e.partition("=")[0] != key.strip()]
        config["Env"] = env + ["{}={}".format(key.strip(), val.strip().strip('"'))]
    elif word == "WORKDIR":
        config["WorkingDir"] = value
    elif word == "USER":
        config["User"] = value
    elif word == "EXPOSE":
        ports = dict(config.get("ExposedPorts") or {})
        for port in value.split():
            ports[port if "/" in port else port + "/tcp"] = {}
        config["ExposedPorts"] = ports
    elif word == "LABEL":
        key, _, val = value.partition("=")
        labels = dict(config.get("Labels") or {})
        labels[key.strip()] = val.strip().strip('"')
        config["Labels"] = labels
    elif word == "VOLUME":
        vols = dict(config.get("Volumes") or {})
        for path in (json.loads(value) if value.startswith("[") else value.split()):
            vols[path] = {}
        config["Volumes"] = vols
    else:
        raise RunError("commit --change {!r}: supported are CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, "
                       "WORKDIR".format(line))


def commit(root, ref, image=None, changes=(), message=None, author=None):
    """The container's changes as a new image (named `image`, if given); returns the image's config digest."""
    import tempfile

    from hostprep.runtime.builder import write_layer
    from hostprep.runtime.store import MT_CONFIG, MT_LAYER, MT_MANIFEST, Store

    state = find(root, ref)
    store = Store(root)
    manifest, base = store.image(state["image_id"])
    image_cfg = json.loads(json.dumps(base))
    config = image_cfg.setdefault("config", {})
    run = state.get("config") or {}
    spec = state.get("spec") or {}
    if run.get("cmd"):
        config["Cmd"] = list(run["cmd"])
    if run.get("entrypoint"):
        config["Entrypoint"] = run["entrypoint"].split()
    if spec.get("env"):
        config["Env"] = ["{}={}".format(k, v) for k, v in sorted(spec["env"].items()) if k != "HOSTNAME"]
    for line in changes:
        _apply_change(config, line)
    upper = os.path.join(containers_dir(root), state["id"], "upper")
    fd, tar_path = tempfile.mkstemp(prefix=".commit-", suffix=".tar", dir=root)
    os.close(fd)
    try:
        write_layer(upper, tar_path, lower_view=None, run=True)
        with store.lock():
            digest, size = store.put_blob_file(tar_path)
            store.unpacked(digest)
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            image_cfg["created"] = now
            image_cfg.setdefault("rootfs", {"type": "layers", "diff_ids": []})["diff_ids"].append(digest)
            entry = {"created": now, "created_by": "hostprep-runtime commit {}".format(state["name"])}
            if message:
                entry["comment"] = message
            image_cfg["history"] = list(image_cfg.get("history") or []) + [entry]
            if author:
                image_cfg["author"] = author
            cfg_digest, cfg_size = store.put_blob(json.dumps(image_cfg, sort_keys=True).encode())
            new = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
                   "config": {"mediaType": MT_CONFIG, "digest": cfg_digest, "size": cfg_size},
                   "layers": list(manifest["layers"]) + [{"mediaType": MT_LAYER, "digest": digest, "size": size}]}
            m_digest, m_size = store.put_blob(json.dumps(new, sort_keys=True).encode())
            if image:
                from hostprep.runtime import refs

                store.set_ref(refs.check_image_name(image), m_digest, m_size)
    finally:
        os.unlink(tar_path)
    return cfg_digest


# -- save ----------------------------------------------------------------------------------------------------------
def save(root, refs_, output):
    """Images as one OCI image layout tar (`import` and podman/skopeo read it): oci-layout, index.json naming each
    image by its reference, and the blobs of their manifests, configs and layers."""
    from hostprep.runtime.store import MT_MANIFEST, Store, normalize_ref

    store = Store(root)
    manifests = []
    blobs = []
    written = {}  # digest: path or the bytes of a manifest made for the save (store.export_manifest)
    for ref in refs_:
        digest, data, layers = store.export_manifest(store.lookup(ref))
        manifest = json.loads(data.decode("utf-8"))
        name = normalize_ref(ref) if not ref.startswith("sha256:") else None
        entry = {"mediaType": MT_MANIFEST, "digest": digest, "size": len(data)}
        if name:
            entry["annotations"] = {"org.opencontainers.image.ref.name": name}
        manifests.append(entry)
        written.setdefault(digest, data)
        written.setdefault(manifest["config"]["digest"], store.blob_path(manifest["config"]["digest"], verify=False))
        for layer, path in layers:
            written.setdefault(layer["digest"], path)
        for d in [digest, manifest["config"]["digest"]] + [layer["digest"] for layer, _ in layers]:
            if d not in blobs:
                blobs.append(d)
    tmp = output + ".tmp-" + os.urandom(4).hex()
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
            _add_bytes(tar, "index.json", json.dumps({"schemaVersion": 2, "manifests": manifests},
                                                     sort_keys=True).encode())
            for d in blobs:
                if isinstance(written[d], bytes):
                    _add_bytes(tar, "blobs/sha256/" + d.split(":", 1)[1], written[d])
                else:
                    tar.add(written[d], arcname="blobs/sha256/" + d.split(":", 1)[1])
        os.replace(tmp, output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _add_bytes(tar, name, data):
    import io

    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))
