"""Safe extraction of image layers: every entry is checked before anything is written.

Refused, with the entry named: absolute paths, `..` components, hard links and symlinks whose
target would leave the root, device nodes, and (while extracting) any path that would be written
through a symlink that leads outside the root.
"""

import os
import posixpath
import shutil
import stat
import tarfile


class UnsafeEntry(Exception):
    """A layer entry that would escape the root filesystem or create a device."""


def _norm(name):
    name = name.lstrip("./") if name.startswith("./") else name
    return posixpath.normpath(name) if name not in ("", ".") else "."


def check_members(members):
    """Raise UnsafeEntry for the first entry that is not safe; returns the members otherwise."""
    for m in members:
        name = m.name
        if name.startswith("/"):
            raise UnsafeEntry("entry {!r}: absolute path".format(name))
        norm = _norm(name)
        if norm == ".." or norm.startswith("../") or "/../" in "/" + name + "/":
            raise UnsafeEntry("entry {!r}: path leaves the root".format(name))
        if m.ischr() or m.isblk():
            raise UnsafeEntry("entry {!r}: device nodes are not allowed".format(name))
        if m.islnk():
            target = _norm(m.linkname)
            if m.linkname.startswith("/") or target == ".." or target.startswith("../"):
                raise UnsafeEntry("entry {!r}: hard link to {!r} points outside the root".format(name, m.linkname))
        if m.issym() and not m.linkname.startswith("/"):
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(norm), m.linkname))
            if resolved == ".." or resolved.startswith("../"):
                raise UnsafeEntry("entry {!r}: symlink to {!r} points outside the root".format(name, m.linkname))
    return members


def _inside(root, path):
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def extract(tar_path, dest, whiteouts=False):
    """Extract a (possibly compressed) layer tar into `dest`; nothing is left behind on failure."""
    os.makedirs(dest, exist_ok=False)
    root = os.path.realpath(dest)
    try:
        with tarfile.open(tar_path, "r:*") as tar:
            members = check_members(tar.getmembers())
            for m in members:
                norm = _norm(m.name)
                if norm == ".":
                    continue
                target = os.path.join(root, norm)
                parent = os.path.dirname(target)
                if not _inside(root, parent):
                    raise UnsafeEntry("entry {!r}: would be written through a link outside the root".format(m.name))
                base = os.path.basename(norm)
                if whiteouts and base.startswith(".wh."):
                    _whiteout(parent, base, root)
                    continue
                os.makedirs(parent, exist_ok=True)
                if os.path.lexists(target) and not (m.isdir() and os.path.isdir(target)):
                    if os.path.isdir(target) and not os.path.islink(target):
                        shutil.rmtree(target)
                    else:
                        os.unlink(target)
                if m.isdir():
                    os.makedirs(target, exist_ok=True)
                elif m.isreg():
                    with tar.extractfile(m) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out)
                elif m.issym():
                    os.symlink(m.linkname, target)
                elif m.islnk():
                    source = os.path.join(root, _norm(m.linkname))
                    if not _inside(root, source):
                        raise UnsafeEntry("entry {!r}: hard link leaves the root".format(m.name))
                    os.link(source, target)
                elif m.isfifo():
                    os.mkfifo(target)
                else:
                    continue
                if not m.issym():
                    os.chmod(target, stat.S_IMODE(m.mode))
                try:
                    os.lchown(target, m.uid, m.gid)
                except OSError:
                    pass
                if not m.issym():
                    os.utime(target, (m.mtime, m.mtime))
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def _whiteout(parent, base, root):
    """OCI whiteouts as overlayfs expects them in a lower layer: `.wh.NAME` becomes a 0:0 character
    device NAME (hides NAME below), `.wh..wh..opq` marks the directory opaque."""
    os.makedirs(parent, exist_ok=True)
    if base == ".wh..wh..opq":
        os.setxattr(parent, "trusted.overlay.opaque", b"y")
        return
    name = base[len(".wh."):]
    target = os.path.join(parent, name)
    if not _inside(root, target) or "/" in name or name in ("", ".", ".."):
        raise UnsafeEntry("whiteout {!r} is not a plain name".format(base))
    if os.path.lexists(target):
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        else:
            os.unlink(target)
    os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0))
