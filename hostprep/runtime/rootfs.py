"""The container's root filesystem, built by its PID 1 in its own mount namespace, step by step: overlay,
volumes, /proc and /sys, /dev, masked and read-only paths, pivot_root, /etc files, read-only remount.

Devices: every mount the container can write is `nodev` (the overlay root, volumes, /dev's tmpfs, /dev/shm),
and the standard nodes are bind mounts of the host's (null, zero, full, random, urandom, tty; the console is
the container's own pty). A node made with mknod in the container is useless: opening it fails. This works
on a pure cgroup v2 host too; on v1 the devices cgroup refuses the same (cgroups.py).
"""

import os

from hostprep.runtime import linux
from hostprep.runtime.state import RunError
from hostprep.runtime.volumes import copy_up

MASKED = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
          "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_RO = linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC
_MAX_SYMLINKS = 40
_TMPFS_FLAGS = {"noexec": linux.MS_NOEXEC, "nosuid": linux.MS_NOSUID, "nodev": linux.MS_NODEV}


def make_mounts_private(spec):
    """Nothing mounted here reaches the host: every mount private, or a slave of the host's (host mounts still
    propagate in) when a volume asked for slave propagation."""
    slave = any(v["propagation"] in ("slave", "rslave") for v in spec["volumes"])
    linux.mount(None, "/", None, linux.MS_REC | (linux.MS_SLAVE if slave else linux.MS_PRIVATE))


def mount_overlay(spec):
    """The image's layers under the container's upper layer, mounted on its directory; the cwd goes there and
    every later path is relative to it."""
    lower = ":".join(reversed(spec["layers"]))
    options = "lowerdir={},upperdir={},workdir={}".format(lower, spec["upper"], spec["work"])
    if spec.get("volatile"):
        # --rm: the upper layer is removed with the container, so unmounting the overlay need not sync the
        # upper filesystem (sync_filesystem of the whole host filesystem, 1-20 ms and more under load, at every
        # exit); podman does the same for its --rm containers
        options += ",volatile"
    linux.mount("overlay", spec["rootfs"], "overlay", linux.MS_NODEV, options)
    os.chdir(spec["rootfs"])


def mount_volumes(spec):
    """Each -v source bound (recursively) on its destination, resolved inside the root; every mount of the
    tree gets nodev, and read-only ones MS_RDONLY on every mount of the tree (a plain MS_REC remount would only
    reach the top one)."""
    for volume in spec["volumes"]:
        if volume.get("type") == "tmpfs":  # --tmpfs, --mount type=tmpfs (volumes.py)
            target = _mount_point_in_root(spec["rootfs"], volume["target"], True)
            flags = sum(_TMPFS_FLAGS[f] for f in volume["flags"]) | (linux.MS_RDONLY if volume["readonly"] else 0)
            linux.mount("tmpfs", target, "tmpfs", flags, volume["data"] or None)
            continue
        target = _mount_point_in_root(spec["rootfs"], volume["target"], os.path.isdir(volume["source"]))
        if volume.get("copy"):  # a named or anonymous volume: empty, it takes the image's content first
            copy_up(target, volume["source"])
        linux.mount(volume["source"], target, None, linux.MS_BIND | linux.MS_REC)
        propagation = volume["propagation"]
        flag = linux.MS_SLAVE if propagation.endswith("slave") else linux.MS_PRIVATE
        linux.mount(None, target, None, flag | (linux.MS_REC if propagation.startswith("r") else 0))
        remount_tree(target, linux.MS_NODEV | (linux.MS_RDONLY if volume["readonly"] else 0))


def remount_tree(top, add):
    """Remount `top` and every mount below it with `add` on top of the flags each already has."""
    for point in [top] + submounts(top):
        try:
            have = os.statvfs(point).f_flag & (linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
        except OSError:  # hidden under another mount: unreachable by path, so by the container too
            continue
        linux.mount(None, point, None, linux.MS_BIND | linux.MS_REMOUNT | have | add)


def submounts(top):
    """Mount points strictly below `top` in this mount namespace, parents first."""
    prefix = top.rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo", "rb") as handle:
        for line in handle.read().decode("utf-8", "surrogateescape").splitlines():
            point = _unescape(line.split(" ", 5)[4])
            if point.startswith(prefix):
                found.append(point)
    return found


def _unescape(field):
    """mountinfo writes space, tab, newline and backslash as \\ooo."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _mount_point_in_root(rootfs, path, directory):
    """The host path of `path` inside the container's root, made if missing. Symbolic links on the way are
    resolved as the container would resolve them (an absolute link starts at the container's root, `..`
    stops there), so no mount point can be placed outside the root."""
    rootfs = rootfs.rstrip("/")
    parts = [p for p in path.split("/") if p and p != "."]
    resolved = []  # components below rootfs, none a symlink
    links = 0
    while parts:
        name = parts.pop(0)
        if name == "..":
            if resolved:
                resolved.pop()
            continue
        current = os.path.join(rootfs, *(resolved + [name]))
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            st = None
        if st is not None and st.st_mode & 0o170000 == 0o120000:
            links += 1
            if links > _MAX_SYMLINKS:
                raise RunError("mount point {}: too many symbolic links".format(path))
            link = os.readlink(current)
            if link.startswith("/"):
                resolved = []
            parts = [p for p in link.split("/") if p and p != "."] + parts
            continue
        if st is None:
            last = not parts
            if last and not directory:
                os.close(os.open(current, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644))
            else:
                os.mkdir(current, 0o755)
        elif parts and st.st_mode & 0o170000 != 0o040000:
            raise RunError("mount point {}: {} is not a directory".format(path, "/" + "/".join(resolved + [name])))
        resolved.append(name)
    if not resolved:
        raise RunError("mount point {} is the container's root".format(path))
    return os.path.join(rootfs, *resolved)


def _mount_dir(name):
    """A top-level directory of the root (cwd) to mount on: created if missing, never through a symlink."""
    try:
        os.mkdir(name, 0o755)
    except FileExistsError:
        if os.lstat(name).st_mode & 0o170000 != 0o040000:
            raise RunError("mount point /{} is not a directory".format(name))
    return name


def mount_proc_sys(spec):
    """A /proc of the container's PID namespace, and a fresh read-only sysfs in every network mode: never the
    host's /sys with its submounts (cgroup hierarchies, debugfs, securityfs), not even with --network host."""
    linux.mount("proc", _mount_dir("proc"), "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    linux.mount("sysfs", _mount_dir("sys"), "sysfs", _RO)


def mount_dev(spec):
    """/dev: a nodev tmpfs with the host's standard nodes bound in, a devpts of its own, /dev/shm, links."""
    linux.mount("tmpfs", _mount_dir("dev"), "tmpfs", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_STRICTATIME,
                "mode=755,size=65536k")
    for name in DEVICES:
        path = "dev/" + name
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666))
        linux.mount("/dev/" + name, path, None, linux.MS_BIND)
    if spec.get("tty"):
        os.close(os.open("dev/console", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))  # the pty, bound later
    os.mkdir("dev/pts", 0o755)
    linux.mount("devpts", "dev/pts", "devpts", linux.MS_NOSUID | linux.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
    os.symlink("pts/ptmx", "dev/ptmx")
    os.mkdir("dev/shm", 0o755)
    linux.mount("shm", "dev/shm", "tmpfs", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC, "mode=1777,size=65536k")
    os.mkdir("dev/mqueue", 0o755)
    for link, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, "dev/" + link)


def mask_paths():
    """Docker's masked paths: an empty read-only tmpfs on directories, /dev/null on files."""
    for path in MASKED:
        target = path[1:]
        try:
            mode = os.stat(target).st_mode
        except OSError:  # not on this kernel
            continue
        if mode & 0o170000 == 0o040000:
            linux.mount("tmpfs", target, "tmpfs", linux.MS_RDONLY)
        else:
            linux.mount("dev/null", target, None, linux.MS_BIND)


def readonly_paths():
    for path in READONLY:
        target = path[1:]
        if os.path.exists(target):
            linux.mount(target, target, None, linux.MS_BIND | linux.MS_REC)
            linux.mount(None, target, None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_REC)


def pivot():
    """pivot_root(".", "."): the old root is stacked on the new one and detached at once, so no directory has
    to be made (and removed again) in the container's upper layer."""
    linux.pivot_root(".", ".")
    linux.umount(".", linux.MNT_DETACH)
    os.chdir("/")


def write_etc_files(spec):
    """/etc/hostname and /etc/hosts, written after the pivot (a symlink in the image resolves inside the
    container) and only into the container's own root filesystem: never through a link, never into a volume
    (-v HOSTDIR:/etc must not get the runtime's files in the host's directory)."""
    try:
        root_dev = os.lstat("/").st_dev
        try:
            os.mkdir("/etc", 0o755)
        except FileExistsError:
            pass
        etc = os.open("/etc", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:  # an image whose /etc is no directory (a dangling link): it goes without them
        return
    try:
        if os.fstat(etc).st_dev != root_dev:
            return  # a volume
        _write_in(etc, "hostname", spec["hostname"] + "\n", root_dev)
        if spec["network"] != "host" or not _exists_in(etc, "hosts"):
            _write_in(etc, "hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n127.0.1.1\t{}\n".format(
                spec["hostname"]), root_dev)
    finally:
        os.close(etc)


def _exists_in(dir_fd, name):
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except OSError:
        return False


def _write_in(dir_fd, name, text, root_dev):
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o644,
                     dir_fd=dir_fd)
    except OSError:  # a link, or no permission: left as the image has it
        return
    try:
        st = os.fstat(fd)
        if st.st_dev != root_dev or st.st_mode & 0o170000 != 0o100000:
            return  # a file volume, or no regular file
        os.ftruncate(fd, 0)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def remount_root_readonly(spec):
    if spec["read_only"]:
        linux.mount(None, "/", None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_NODEV)


def bind_etc_files(spec):
    """In PID 1, before the pivot: the runtime's /etc/hosts and /etc/resolv.conf (network.py keeps them
    current) bound over the image's."""
    for name in ("hosts", "resolv.conf"):
        source = os.path.join(os.path.dirname(os.path.dirname(spec["dir"])), "networks", "files", spec["id"], name)
        target = _mount_point_in_root(spec["rootfs"], "/etc/" + name, False)
        linux.mount(source, target, None, linux.MS_BIND)
        linux.mount(None, target, None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_NODEV | linux.MS_NOSUID |
                    linux.MS_NOEXEC)
