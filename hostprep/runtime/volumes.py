"""Named and anonymous volumes, `--mount` and `--tmpfs`: what a container mounts besides its root, as Docker
reads it, and the volumes' store (`<root>/volumes/NAME/_data` with `volume.json` beside it).

- `-v NAME:/path[:OPTS]` names a volume, made on first use; `-v /path` (or a VOLUME of the image that no other
  mount covers) an anonymous one with a random 64-hex name, removed with the container by `rm -v` or `--rm`.
- `--mount type=bind|volume|tmpfs,source=..,target=..,readonly,volume-nocopy,bind-propagation=..,
  tmpfs-size=..,tmpfs-mode=..` and `--tmpfs /path[:OPTS]` (Docker's defaults: `--tmpfs` is noexec,nosuid,nodev;
  a tmpfs `--mount` only nosuid,nodev, mode 1777).
- A volume that is empty when a container mounts it gets the image's content at its destination first, with
  owners, modes, times and links as in the image (Docker's copy-up; `nocopy` / `volume-nocopy` turn it off). The
  copy runs in the container's PID 1 after the overlay is mounted (`copy_up`), never following a link.
- Mounts are made parents first (sorted by the number of components of the destination), as Docker sorts them.

This module is imported on the path of every `run` (spec.py, rootfs.py): only `os` at import time.
"""

import os

from hostprep.runtime.state import RunError

NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
TMPFS_DEFAULT = "noexec,nosuid,nodev"


def volumes_dir(root):
    return os.path.join(root, "volumes")


def check_name(name):
    if len(name) < 2 or name[0] in "_.-" or not NAME_CHARS.issuperset(name):
        raise RunError("invalid volume name {!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed (at least two "
                       "characters)".format(name))
    return name


def _meta_path(root, name):
    return os.path.join(volumes_dir(root), name, "volume.json")


def data_path(root, name):
    return os.path.join(volumes_dir(root), name, "_data")


def read(root, name):
    from hostprep.runtime import jsonio

    try:
        with open(_meta_path(root, check_name(name)), "rb") as handle:
            return jsonio.loads(handle.read())
    except FileNotFoundError:
        raise RunError("no such volume: {}".format(name))


def create(root, name=None, labels=None, anonymous=False):
    """The volume `name` (made when missing; a random name when None); returns its record."""
    import time

    from hostprep.runtime import jsonio

    if name is None:
        name = os.urandom(32).hex()
        anonymous = True
    check_name(name)
    vdir = os.path.join(volumes_dir(root), name)
    try:
        os.makedirs(volumes_dir(root), 0o700, exist_ok=True)
        os.mkdir(vdir, 0o701)
    except FileExistsError:
        return read(root, name)
    record = {"Name": name, "Driver": "local", "Mountpoint": os.path.join(vdir, "_data"), "Scope": "local",
              "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "Labels": dict(labels or {}),
              "Options": {}, "Anonymous": anonymous}
    os.mkdir(os.path.join(vdir, "_data"), 0o755)
    tmp = _meta_path(root, name) + ".tmp"
    with open(tmp, "wb") as handle:
        handle.write(jsonio.dumps(record).encode())
    os.replace(tmp, _meta_path(root, name))
    return record


def names(root):
    try:
        entries = sorted(os.listdir(volumes_dir(root)))
    except FileNotFoundError:
        return []
    return [n for n in entries if os.path.exists(_meta_path(root, n))]


def users(root, name):
    """Ids of the containers (running or not) whose record mounts the volume `name`."""
    from hostprep.runtime.housekeeping import container_states

    return [s["id"] for s in container_states(root)
            if any(m.get("Name") == name and m.get("Type") == "volume" for m in s.get("mounts") or [])]


def remove(root, name, force=False):
    from hostprep.runtime.state import rmtree

    read(root, name)
    in_use = users(root, name)
    if in_use:
        raise RunError("remove {}: volume is in use - [{}]".format(name, ", ".join(in_use)))
    rmtree(os.path.join(volumes_dir(root), name))
    return name


def prune(root, everything=False):
    """Unused anonymous volumes (all unused ones with `everything`), as Docker 23+; [(name, bytes)]."""
    from hostprep.runtime.store import disk_usage

    out = []
    for name in names(root):
        record = read(root, name)
        if (record.get("Anonymous") or everything) and not users(root, name):
            size = disk_usage(os.path.join(volumes_dir(root), name))
            remove(root, name)
            out.append((name, size))
    return out


# -- what a container mounts -----------------------------------------------------------------------------------
def _target(text, where):
    if not text.startswith("/"):
        raise RunError("invalid {}: the destination {!r} must be an absolute path".format(where, text))
    target = "/" + os.path.normpath(text).lstrip("/")
    if target == "/":
        raise RunError("invalid {}: the destination cannot be /".format(where))
    return target


def _volume_mount(root, name, target, readonly=False, copy=True, anonymous=False):
    record = create(root, name, anonymous=anonymous) if name is None or not os.path.isdir(
        os.path.join(volumes_dir(root), name)) else read(root, name)
    return {"type": "volume", "volume": record["Name"], "source": record["Mountpoint"], "target": target,
            "readonly": readonly, "propagation": "rprivate", "copy": copy, "anonymous": bool(record.get("Anonymous"))}


def tmpfs_mount(target, options, defaults=TMPFS_DEFAULT, where="--tmpfs"):
    """A tmpfs at `target`: its mount flags and data (size=, mode=, ...) from Docker's option words."""
    flags = set()
    data = []
    readonly = False
    for word in ([w for w in defaults.split(",") if w] + [w for w in options.split(",") if w]):
        if word in ("ro", "rw"):
            readonly = word == "ro"
        elif word in ("noexec", "exec", "nosuid", "suid", "nodev", "dev"):
            flags.discard(word[2:] if word.startswith("no") else "no" + word)
            flags.add(word)
        elif word.split("=", 1)[0] in ("size", "mode", "nr_inodes", "uid", "gid"):
            key, _, value = word.partition("=")
            if not value:
                raise RunError("invalid {} option {!r}".format(where, word))
            data = [d for d in data if not d.startswith(key + "=")] + [word]
        else:
            raise RunError("invalid {} option {!r} (known: ro, rw, [no]exec, [no]suid, [no]dev, size=, mode=, "
                           "nr_inodes=, uid=, gid=)".format(where, word))
    flags.discard("dev")
    flags.add("nodev")  # every mount the container can write is nodev (rootfs.py)
    return {"type": "tmpfs", "source": "tmpfs", "target": target, "readonly": readonly, "propagation": "rprivate",
            "flags": sorted(f for f in flags if f.startswith("no")), "data": ",".join(data)}


def _parse_mount(root, text, parse_bind):
    fields = {}
    flags = set()
    for item in text.split(","):
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if not eq:
            flags.add(key)
            continue
        if key in ("src", "source"):
            key = "source"
        elif key in ("dst", "destination", "target"):
            key = "target"
        fields[key] = value
    kind = fields.pop("type", "volume")
    readonly = bool(flags & {"readonly", "ro"}) or fields.pop("readonly", fields.pop("ro", "false")) in ("1", "true")
    unknown = flags - {"readonly", "ro", "volume-nocopy"}
    if unknown:
        raise RunError("invalid --mount {!r}: unknown field {}".format(text, ", ".join(sorted(unknown))))
    if "target" not in fields:
        raise RunError("invalid --mount {!r}: target is required".format(text))
    target = _target(fields.pop("target"), "--mount")
    source = fields.pop("source", None)
    if kind == "bind":
        if not source:
            raise RunError("invalid --mount {!r}: a bind mount needs a source".format(text))
        propagation = fields.pop("bind-propagation", None)
        opts = ["ro" if readonly else "rw"] + ([propagation] if propagation else [])
        if fields:
            raise RunError("invalid --mount {!r}: unknown field {}".format(text, ", ".join(sorted(fields))))
        return parse_bind("{}:{}:{}".format(source, target, ",".join(opts)))
    if kind == "volume":
        nocopy = "volume-nocopy" in flags or fields.pop("volume-nocopy", "false") in ("1", "true")
        if fields:
            raise RunError("invalid --mount {!r}: unknown field {}".format(text, ", ".join(sorted(fields))))
        if source:
            check_name(source)
        return _volume_mount(root, source or None, target, readonly, not nocopy)
    if kind == "tmpfs":
        if source:
            raise RunError("invalid --mount {!r}: a tmpfs takes no source".format(text))
        opts = []
        if "tmpfs-size" in fields:
            opts.append("size=" + fields.pop("tmpfs-size"))
        opts.append("mode=" + fields.pop("tmpfs-mode", "1777"))
        if fields:
            raise RunError("invalid --mount {!r}: unknown field {}".format(text, ", ".join(sorted(fields))))
        return tmpfs_mount(target, ",".join(opts + (["ro"] if readonly else [])), defaults="nosuid,nodev",
                           where="--mount")
    raise RunError("invalid --mount {!r}: type must be bind, volume or tmpfs".format(text))


def mounts(opts, image_config, root, parse_bind):
    """Every mount of a new container (`parse_bind` reads a host-path `-v`), parents first."""
    out = []
    for text in getattr(opts, "volume", None) or []:
        parts = text.split(":")
        if len(parts) == 1 and text.startswith("/"):
            out.append(_volume_mount(root, None, _target(text, "volume")))
        elif len(parts) in (2, 3) and parts[0] and not parts[0].startswith("/"):
            options = parts[2].split(",") if len(parts) == 3 else []
            bad = [o for o in options if o not in ("ro", "rw", "nocopy", "z", "Z")]
            if bad:
                raise RunError("invalid volume {!r}: unknown option {!r}".format(text, bad[0]))
            check_name(parts[0])
            out.append(_volume_mount(root, parts[0], _target(parts[1], "volume {!r}".format(text)),
                                     readonly="ro" in options, copy="nocopy" not in options))
        else:
            out.append(dict(parse_bind(text), type="bind"))
    for text in getattr(opts, "mount", None) or []:
        out.append(dict(_parse_mount(root, text, parse_bind)))
        out[-1].setdefault("type", "bind")
    for text in getattr(opts, "tmpfs", None) or []:
        path, _, options = text.partition(":")
        out.append(tmpfs_mount(_target(path, "--tmpfs"), options))
    seen = set()
    for m in out:
        if m["target"] in seen:
            raise RunError("duplicate mount point: {}".format(m["target"]))
        seen.add(m["target"])
    for path in sorted((image_config or {}).get("Volumes") or {}):
        target = _target(path, "image VOLUME")
        if target not in seen:
            out.append(_volume_mount(root, None, target))
            seen.add(target)
    out.sort(key=lambda m: len([p for p in m["target"].split("/") if p]))
    return out


def describe(m):
    """A mount as `inspect` shows it (Docker's Mounts entries)."""
    entry = {"Type": m.get("type", "bind"), "Source": m["source"], "Destination": m["target"],
             "RW": not m["readonly"], "Propagation": m.get("propagation", "")}
    if entry["Type"] == "volume":
        entry.update(Name=m["volume"], Driver="local", Anonymous=bool(m.get("anonymous")))
    return entry


def anonymous_of(state):
    return [m["Name"] for m in state.get("mounts") or [] if m.get("Type") == "volume" and m.get("Anonymous")]


def remove_anonymous(root, state):
    """The anonymous volumes of a removed container (rm -v, --rm): each once no other container uses it."""
    for name in anonymous_of(state):
        try:
            remove(root, name)
        except RunError:
            pass


# -- in the container's PID 1, after the overlay is mounted --------------------------------------------------------
def copy_up(image_path, volume_dir):
    """Docker's copy-up: an empty volume takes the image's content at its destination (owners, modes, times,
    links, hard links inside the tree), and its top directory the owner and mode of the image's directory.
    Nothing is followed: a link in the image is copied as a link."""
    try:
        st = os.lstat(image_path)
    except FileNotFoundError:
        return
    if st.st_mode & 0o170000 != 0o040000 or os.listdir(volume_dir):
        return
    links = {}
    _copy_tree(image_path, volume_dir, links)
    os.chown(volume_dir, st.st_uid, st.st_gid)
    os.chmod(volume_dir, st.st_mode & 0o7777)


def _copy_tree(src, dst, links):
    for entry in os.scandir(src):
        s = entry.path
        d = os.path.join(dst, entry.name)
        st = os.lstat(s)
        kind = st.st_mode & 0o170000
        if kind == 0o040000:
            os.mkdir(d, 0o700)
            _copy_tree(s, d, links)
        elif kind == 0o120000:
            os.symlink(os.readlink(s), d)
        elif kind == 0o100000:
            if st.st_nlink > 1 and (st.st_dev, st.st_ino) in links:
                os.link(links[(st.st_dev, st.st_ino)], d)
                continue
            links[(st.st_dev, st.st_ino)] = d
            _copy_file(s, d)
        elif kind in (0o010000, 0o020000, 0o060000):
            os.mknod(d, st.st_mode, st.st_rdev)
        else:
            continue  # sockets
        os.chown(d, st.st_uid, st.st_gid, follow_symlinks=False)
        if kind != 0o120000:
            os.chmod(d, st.st_mode & 0o7777)
        _copy_xattrs(s, d)
        os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_file(src, dst):
    fin = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            while True:
                chunk = os.read(fin, 1 << 20)
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fout, view):]
        finally:
            os.close(fout)
    finally:
        os.close(fin)


def _copy_xattrs(src, dst):
    try:
        keys = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return
    for key in keys:
        if key.startswith("trusted.overlay."):
            continue
        try:
            os.setxattr(dst, key, os.getxattr(src, key, follow_symlinks=False), follow_symlinks=False)
        except OSError:
            pass
