"""Safe extraction of image layers and image archives: every entry is checked before it is written.

Refused, with the entry named: absolute paths, `..` components, hard links and symlinks whose target would
leave the root, device nodes, and (while extracting) any path that would be written through a symlink that
leads outside the root. On any failure the destination is removed: nothing is left half written.

The archive is read as a stream, one entry at a time, and tarfile's list of the entries seen is emptied as it
goes: a layer with millions of entries takes the memory of one.

What a layer says about a file survives: the owner is set before the mode (chown clears setuid and setgid
bits and file capabilities), then the mode, then the file capability (`security.capability`) and `user.*`
extended attributes from the entry's PAX `SCHILY.xattr.*` records. Other namespaces (trusted.*, which
overlayfs reads, and security.selinux) are not taken from an image.
"""

import os
import posixpath
import shutil
import stat
import tarfile
import zlib

XATTR_PREFIX = "SCHILY.xattr."
XATTRS_KEPT = ("security.capability", "user.")


class UnsafeEntry(Exception):
    """A layer entry that would escape the root filesystem or create a device."""


class BrokenArchive(Exception):
    """A tar or gzip stream that cannot be read to its end (truncated, corrupt)."""


def _norm(name):
    name = name.lstrip("./") if name.startswith("./") else name
    return posixpath.normpath(name) if name not in ("", ".") else "."


def check_member(m):
    """Raise UnsafeEntry if the entry is not safe to extract; returns it otherwise."""
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
    return m


def check_members(members):
    """Raise UnsafeEntry for the first entry that is not safe; returns the members otherwise."""
    for m in members:
        check_member(m)
    return members


def entries(tar):
    """The archive's entries one at a time, forgetting each once the next is read (constant memory)."""
    while True:
        try:
            m = tar.next()
        except (EOFError, zlib.error, tarfile.TarError) as exc:
            raise BrokenArchive("{}: {}".format(tar.name or "archive", exc))
        if m is None:
            # tarfile takes a header cut short for the end of the archive; a real end is a zero block (or
            # nothing at all), so a few bytes short of a whole block mean the archive was cut
            if 0 < tar.fileobj.tell() - tar.offset < tarfile.BLOCKSIZE:
                raise BrokenArchive("{}: the archive ends inside an entry's header".format(tar.name or "archive"))
            return
        tar.members = []  # tarfile keeps every TarInfo it has read; nothing here looks back
        yield m


def open_stream(path):
    """A tar (plain, gzip, bzip2 or xz) opened for one sequential pass."""
    try:
        return tarfile.open(path, "r|*")
    except (EOFError, zlib.error, tarfile.TarError) as exc:
        raise BrokenArchive("{} is not a readable tar archive: {}".format(path, exc))


def _inside(root, path):
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def extract(tar_path, dest, whiteouts=False):
    """Extract a (possibly compressed) layer tar into `dest`; nothing is left behind on failure."""
    os.makedirs(dest, exist_ok=False)
    root = os.path.realpath(dest)
    try:
        with open_stream(tar_path) as tar:
            for m in entries(tar):
                _extract_one(tar, m, root, whiteouts)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def extract_fileobj(fileobj, dest, whiteouts=False, on_member=None):
    """extract() of a stream (an object with read(n)), read in 1 MiB chunks; the stream is read up to the
    archive's end marker, not beyond. on_member(member, path) is called after each entry is written.

    A stream with copy_to(fd, n) (a pull's layer stream: an uncompressed tar, tell() and forward seeks) is read
    by tarfile in its seekable mode, without its stream buffer, and regular files' data are copied from it
    straight to their files."""
    os.makedirs(dest, exist_ok=False)
    root = os.path.realpath(dest)
    try:
        try:
            if hasattr(fileobj, "copy_to"):
                tar = tarfile.open(fileobj=fileobj, mode="r:")  # noqa: SIM115 - closed below
            else:
                tar = tarfile.open(fileobj=fileobj, mode="r|*", bufsize=1 << 20)  # noqa: SIM115 - closed below
        except (EOFError, zlib.error, tarfile.TarError) as exc:
            raise BrokenArchive("not a readable tar archive: {}".format(exc))
        with tar:
            for m in entries(tar):
                _extract_one(tar, m, root, whiteouts)
                if on_member is not None:
                    on_member(m, os.path.join(root, _norm(m.name)))
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def _extract_one(tar, m, root, whiteouts):
    check_member(m)
    norm = _norm(m.name)
    if norm == ".":
        return
    target = os.path.join(root, norm)
    parent = os.path.dirname(target)
    if not _inside(root, parent):
        raise UnsafeEntry("entry {!r}: would be written through a link outside the root".format(m.name))
    base = os.path.basename(norm)
    if whiteouts and base.startswith(".wh."):
        _whiteout(parent, base, root)
        return
    os.makedirs(parent, exist_ok=True)
    if os.path.lexists(target) and not (m.isdir() and os.path.isdir(target) and not os.path.islink(target)):
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        else:
            os.unlink(target)
    if m.isdir():
        os.makedirs(target, exist_ok=True)
    elif m.isreg() and m.type in (tarfile.REGTYPE, tarfile.AREGTYPE) and hasattr(tar.fileobj, "copy_to"):
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            tar.fileobj.seek(m.offset_data)
            copied = tar.fileobj.copy_to(fd, m.size)
        finally:
            os.close(fd)
        if copied != m.size:
            raise BrokenArchive("entry {!r}: the archive ends {} bytes into its {} bytes".format(
                m.name, copied, m.size))
    elif m.isreg():
        src = tar.extractfile(m)
        copied = 0
        try:
            with open(target, "wb") as out:
                while copied < m.size:
                    chunk = src.read(min(m.size - copied, 1 << 20))
                    if not chunk:
                        break
                    out.write(chunk)
                    copied += len(chunk)
        except (EOFError, zlib.error, tarfile.TarError) as exc:
            raise BrokenArchive("entry {!r}: {}".format(m.name, exc))
        finally:
            src.close()
        if copied != m.size:  # tarfile hands out what there is: a cut archive must not give a cut file
            raise BrokenArchive("entry {!r}: the archive ends {} bytes into its {} bytes".format(
                m.name, copied, m.size))
    elif m.issym():
        os.symlink(m.linkname, target)
    elif m.islnk():
        source = os.path.join(root, _norm(m.linkname))
        if not _inside(root, source) or not os.path.lexists(source):
            raise UnsafeEntry("entry {!r}: hard link to {!r}, which is not in the layer".format(m.name, m.linkname))
        os.link(source, target, follow_symlinks=False)
        return  # the same inode as its source: owner, mode and attributes are the source's
    elif m.isfifo():
        os.mkfifo(target)
    else:
        return
    try:
        os.lchown(target, m.uid, m.gid)  # before the mode: chown clears setuid/setgid bits and capabilities
    except OSError:
        pass
    if not m.issym():
        os.chmod(target, stat.S_IMODE(m.mode))
        _set_xattrs(target, m)
        os.utime(target, (m.mtime, m.mtime))


def _set_xattrs(target, m):
    for key, value in (m.pax_headers or {}).items():
        if not key.startswith(XATTR_PREFIX):
            continue
        name = key[len(XATTR_PREFIX):]
        if not any(name == kept or (kept.endswith(".") and name.startswith(kept)) for kept in XATTRS_KEPT):
            continue
        raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
        os.setxattr(target, name, raw, follow_symlinks=False)


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
