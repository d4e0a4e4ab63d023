"""COPY and ADD in a build: which files (sources resolved in the context or another stage's root, globs,
.dockerignore), where they go (Docker's destination rules), with which owner and mode, as a layer tree.

Sources in the context are relative to it: an absolute path, a `..` that leaves it, or a symlink whose target
is outside it are refused. Symlinks met while copying a directory are copied as links (never followed), as
Docker does. Sources from a stage or an image (`--from`) resolve inside that root, the way a chroot would.
"""

import fnmatch
import os
import posixpath
import shutil
import stat

from hostprep.runtime import dockerignore
from hostprep.runtime.store import sha256

GLOB_CHARS = "*?["
REMOTE = ("http://", "https://", "git@", "git://", "ftp://")


class CopyError(Exception):
    """A COPY or ADD that cannot be done: the message says which source and why."""


def resolve_in(root, rel, what, escape_error):
    """The path of `rel` inside `root` with every symlink resolved inside it; for the build context a link
    leading out is refused (escape_error), for a stage's root it stays inside (as under chroot)."""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    resolved, hops = [], 0
    while parts:
        name = parts.pop(0)
        if name == "..":
            if not resolved and escape_error:
                raise CopyError("{} leaves the build context".format(what))
            if resolved:
                resolved.pop()
            continue
        path = os.path.join(root, *(resolved + [name]))
        try:
            st = os.lstat(path)
        except OSError:
            raise CopyError("{}: no such file or directory".format(what))
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > 40:
                raise CopyError("{}: too many levels of symbolic links".format(what))
            target = os.readlink(path)
            if target.startswith("/"):
                if escape_error:
                    raise CopyError("{} is a symlink to {}, outside the build context".format(what, target))
                resolved = []
            else:
                check = posixpath.normpath(posixpath.join("/".join(resolved), target))
                if escape_error and (check == ".." or check.startswith("../")):
                    raise CopyError("{} is a symlink to {}, outside the build context".format(what, target))
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(name)
    return os.path.join(root, *resolved) if resolved else root, "/".join(resolved)


def _user_ids(view, chown):
    """(uid, gid) of a --chown value, names looked up in the image's /etc/passwd and /etc/group."""
    user, _, group = chown.partition(":")

    def lookup(name, fname, idx_field):
        if name.isdigit():
            return int(name), None
        try:
            with open(os.path.join(view, "etc", fname), encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    fields = line.rstrip("\n").split(":")
                    if len(fields) > 3 and fields[0] == name:
                        return int(fields[2]), int(fields[3]) if idx_field else None
        except OSError:
            pass
        raise CopyError("--chown={}: no {} {!r} in the image's /etc/{}".format(
            chown, "user" if fname == "passwd" else "group", name, fname))
    uid, primary = lookup(user, "passwd", True)
    if group:
        gid, _ = lookup(group, "group", False)
    else:
        gid = primary if primary is not None else uid
    return uid, gid


class Plan:
    """One COPY/ADD: its sources resolved and checked when made, its layer tree written by write_tree()."""

    def __init__(self, builder, ins, stage, sources, dest, chown, chmod, add):
        self.builder = builder
        self.add = add
        self.dest = dest
        self.chmod = int(chmod, 8) if chmod else None
        self.view = builder._view(stage)
        self.ids = _user_ids(self.view, chown) if chown else None
        from_ref = ins.flags.get("from")
        self.from_context = from_ref is None
        if self.from_context:
            self.src_root = builder.context
        else:
            self.src_root = self._from_root(from_ref, ins)
        self.items = []  # [(absolute path, name shown, context-relative path or None, is an archive to unpack)]
        for source in sources:
            self._resolve(source)
        if not self.items:
            raise CopyError("no source files were specified")
        if len(self.items) > 1 and not dest.endswith("/"):
            raise CopyError("with more than one source file the destination must be a directory and end "
                            "with a /")

    def _from_root(self, ref, ins):
        b = self.builder
        names, built = b.stage_names, b.built
        if ref.isdigit() and int(ref) in built:
            return b._view(built[int(ref)])
        if ref.lower() in names:
            index = names[ref.lower()]
            if index not in built:
                raise CopyError("--from={}: the stage is not built before this one".format(ref))
            return b._view(built[index])
        try:
            manifest, config = b.store.resolve(ref)
        except Exception as exc:  # noqa: BLE001 - ImageError, InvalidReference: both mean "no such image"
            raise CopyError("--from={}: no stage of that name and no such local image ({})".format(ref, exc))
        return b._view(manifest.get("layers") or [])

    def _resolve(self, source):
        if source.startswith(REMOTE):
            if self.add:
                raise CopyError("ADD {}: remote URLs are not supported by hostprep-runtime build (it builds "
                                "offline): download the file into the build context and COPY it".format(source))
            raise CopyError("COPY {}: COPY takes no URLs".format(source))
        if self.from_context:
            if source.startswith("/"):
                raise CopyError("source {} is an absolute path: COPY sources are relative to the build "
                                "context".format(source))
            norm = posixpath.normpath(source)
            if norm == ".." or norm.startswith("../"):
                raise CopyError("source {} is outside the build context".format(source))
        rel = source.lstrip("/")
        if any(c in rel for c in GLOB_CHARS):
            matches = self._glob(rel)
            if not matches:
                raise CopyError("source {}: no file in the build context matches".format(source))
            for match in matches:
                self._add_item(match, match)
            return
        self._add_item(rel, source)

    def _glob(self, pattern):
        found = [""]
        for part in [p for p in pattern.split("/") if p not in ("", ".")]:
            nxt = []
            for base in found:
                full = os.path.join(self.src_root, base) if base else self.src_root
                if any(c in part for c in GLOB_CHARS):
                    try:
                        names = sorted(os.listdir(full))
                    except OSError:
                        continue
                    nxt += [posixpath.join(base, n) if base else n for n in names if fnmatch.fnmatchcase(n, part)]
                elif os.path.lexists(os.path.join(full, part)):
                    nxt.append(posixpath.join(base, part) if base else part)
            found = nxt
        if self.from_context:
            found = [f for f in found if not dockerignore.excluded(self.builder.ignore, f)]
        return found

    def _add_item(self, rel, shown):
        what = "source " + shown
        path, real_rel = resolve_in(self.src_root, rel, what, escape_error=self.from_context)
        if self.from_context and real_rel and dockerignore.excluded(self.builder.ignore, real_rel):
            raise CopyError("{}: excluded by .dockerignore".format(what))
        archive = self.add and os.path.isfile(path) and _is_archive(path)
        self.items.append((path, posixpath.basename(posixpath.normpath(rel)) or ".",
                           real_rel if self.from_context else None, archive))

    # -- what the cache key sees ------------------------------------------------------------------------------
    def content_key(self):
        h = sha256()
        for path, name, rel, archive in self.items:
            h.update("item {} {} {}\0".format(name, archive, os.path.isdir(path)).encode())
            for sub, st in self._walk(path, rel):
                h.update("{}\0{:o}\0{}\0{}\0{}\0".format(sub, st.st_mode, st.st_size,
                                                         "" if self.from_context else st.st_uid,
                                                         "" if self.from_context else st.st_gid).encode())
                full = os.path.join(path, sub) if sub else path
                if stat.S_ISLNK(st.st_mode):
                    h.update(os.readlink(full).encode() + b"\0")
                elif stat.S_ISREG(st.st_mode):
                    with open(full, "rb") as handle:
                        for chunk in iter(lambda: handle.read(1 << 20), b""):
                            h.update(chunk)
        return h.hexdigest()

    def _walk(self, path, rel):
        """(relative name, lstat) of the item itself ("") and, for a directory, all it holds that is copied."""
        st = os.stat(path)
        yield "", st
        if not stat.S_ISDIR(st.st_mode):
            return
        ignore = self.builder.ignore if self.from_context else []

        def walk(sub):
            full = os.path.join(path, sub) if sub else path
            for name in sorted(os.listdir(full)):
                child = posixpath.join(sub, name) if sub else name
                ctx_rel = posixpath.join(rel, child) if rel else child
                cst = os.lstat(os.path.join(path, child))
                if ignore and dockerignore.excluded(ignore, ctx_rel):
                    if stat.S_ISDIR(cst.st_mode) and dockerignore.may_hold_included(ignore, ctx_rel):
                        inner = list(walk(child))
                        if inner:
                            yield child, cst
                            for item in inner:
                                yield item
                    continue
                yield child, cst
                if stat.S_ISDIR(cst.st_mode):
                    for item in walk(child):
                        yield item
        for item in walk(""):
            yield item

    # -- the layer tree ------------------------------------------------------------------------------------------
    def write_tree(self):
        tree = os.path.join(self.builder.work, "copy-" + os.urandom(4).hex())
        os.makedirs(tree)
        dest = self.dest
        for path, name, rel, archive in self.items:
            is_dir = os.path.isdir(path)
            if dest.endswith("/") or is_dir or archive or self._dest_is_dir(dest):
                target_dir = dest
                target = None if (is_dir or archive) else posixpath.join(dest, name)
            else:
                target_dir, target = posixpath.dirname(dest), dest
            tdir = self._make_dirs(tree, target_dir)
            if archive:
                self._unpack(path, tdir)
            elif is_dir:
                self._copy_dir_contents(path, rel, tdir)
            else:
                self._copy_one(path, os.path.join(tree, self._inside(target).lstrip("/")), os.stat(path))
        return tree

    def _dest_is_dir(self, dest):
        return os.path.isdir(os.path.join(self.view, self._inside(dest, follow_last=True).lstrip("/")))

    def _inside(self, path, follow_last=False):
        """An image path with its symlinks resolved inside the image's root, as far as it exists there (the
        rest is made by the copy); the last component is followed only when asked (a directory destination)."""
        parts = [p for p in posixpath.normpath(path).split("/") if p not in ("", ".")]
        resolved, hops = [], 0
        while parts:
            name = parts.pop(0)
            if name == "..":
                if resolved:
                    resolved.pop()
                continue
            full = os.path.join(self.view, *(resolved + [name]))
            if (parts or follow_last) and os.path.islink(full) and hops < 40:
                hops += 1
                target = os.readlink(full)
                if target.startswith("/"):
                    resolved = []
                parts = [p for p in target.split("/") if p not in ("", ".")] + parts
                continue
            resolved.append(name)
        return "/" + "/".join(resolved)

    def _make_dirs(self, tree, path):
        """The tree's directory for image directory `path`, its parents made with the image's metadata where it
        has them; new directories are root's 0755 (or the --chown owner's, as buildah and BuildKit make them)."""
        real = self._inside(path.rstrip("/") or "/", follow_last=True).lstrip("/")
        current = tree
        rel = ""
        for part in [p for p in real.split("/") if p]:
            rel = posixpath.join(rel, part) if rel else part
            current = os.path.join(current, part)
            if os.path.isdir(current):
                continue
            os.mkdir(current)
            lower = None
            try:
                lower = os.stat(os.path.join(self.view, rel))
            except OSError:
                pass
            if lower is not None and stat.S_ISDIR(lower.st_mode):
                os.lchown(current, lower.st_uid, lower.st_gid)
                os.chmod(current, stat.S_IMODE(lower.st_mode))
                os.utime(current, (lower.st_atime, lower.st_mtime))
            else:
                uid, gid = self.ids or (0, 0)
                os.lchown(current, uid, gid)
                os.chmod(current, 0o755)
        return current

    def _owner(self, st):
        if self.ids is not None:
            return self.ids
        if self.from_context:
            return 0, 0
        return st.st_uid, st.st_gid

    def _copy_one(self, src, dst, st):
        if os.path.lexists(dst) and not (stat.S_ISDIR(st.st_mode) and os.path.isdir(dst)):
            if os.path.isdir(dst) and not os.path.islink(dst):
                shutil.rmtree(dst)
            else:
                os.unlink(dst)
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(src), dst)
        elif stat.S_ISDIR(st.st_mode):
            if not os.path.isdir(dst):
                os.mkdir(dst)
        elif stat.S_ISREG(st.st_mode):
            shutil.copyfile(src, dst)
        elif stat.S_ISFIFO(st.st_mode):
            os.mkfifo(dst)
        else:
            return  # sockets and devices are not copied
        uid, gid = self._owner(st)
        os.lchown(dst, uid, gid)
        if not stat.S_ISLNK(st.st_mode):
            mode = self.chmod if self.chmod is not None else stat.S_IMODE(st.st_mode)
            os.chmod(dst, mode)
            os.utime(dst, (st.st_atime, st.st_mtime))
        else:
            os.utime(dst, (st.st_atime, st.st_mtime), follow_symlinks=False)

    def _copy_dir_contents(self, path, rel, tdir):
        st = os.stat(path)
        # the destination directory takes the source directory's mode when it is new to the image
        lower_rel = os.path.relpath(tdir, self._tree_root(tdir))
        if not os.path.isdir(os.path.join(self.view, lower_rel)):
            uid, gid = self._owner(st)
            os.lchown(tdir, uid, gid)
            os.chmod(tdir, self.chmod if self.chmod is not None else stat.S_IMODE(st.st_mode))
        dirs = []
        for sub, cst in self._walk(path, rel):
            if not sub:
                continue
            dst = os.path.join(tdir, sub)
            self._copy_one(os.path.join(path, sub), dst, cst)
            if stat.S_ISDIR(cst.st_mode):
                dirs.append((dst, cst))
        for dst, cst in reversed(dirs):  # directory times last: writing into them changed them
            os.utime(dst, (cst.st_atime, cst.st_mtime))

    def _tree_root(self, tdir):
        root = os.path.realpath(self.builder.work)
        rel = os.path.relpath(tdir, root).split(os.sep)
        return os.path.join(root, rel[0])

    def _unpack(self, path, tdir):
        from hostprep.runtime import tarsafe

        tmp = os.path.join(self.builder.work, "unpack-" + os.urandom(4).hex())
        try:
            tarsafe.extract(path, tmp)
        except (tarsafe.UnsafeEntry, tarsafe.BrokenArchive) as exc:
            raise CopyError("ADD {}: {}".format(os.path.basename(path), exc))
        for name in sorted(os.listdir(tmp)):
            src = os.path.join(tmp, name)
            dst = os.path.join(tdir, name)
            if os.path.isdir(dst) and os.path.isdir(src) and not os.path.islink(src):
                _merge(src, dst)
            else:
                os.rename(src, dst)
        shutil.rmtree(tmp, ignore_errors=True)


def _merge(src, dst):
    for name in os.listdir(src):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.isdir(d) and os.path.isdir(s) and not os.path.islink(s):
            _merge(s, d)
        else:
            os.rename(s, d)


def _is_archive(path):
    """Whether ADD unpacks this file: a tar, plain or gzip/bzip2/xz compressed (Docker's rule)."""
    import tarfile

    try:
        with tarfile.open(path, "r:*") as tar:
            return tar.next() is not None
    except (tarfile.TarError, OSError, EOFError, ValueError):
        return False
    except Exception:  # noqa: BLE001 - a compressed stream that is broken: not an archive to Docker either
        return False
