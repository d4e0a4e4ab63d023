"""Linux system calls Python 3.9 lacks (unshare, setns, mount, pivot_root, prctl, capset), via ctypes."""

import ctypes
import ctypes.util
import errno
import os
import platform

try:  # the soname directly: find_library would spawn ldconfig on every start
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1

_SYSCALLS = {"x86_64": {"pivot_root": 155, "capset": 126, "capget": 125},
             "aarch64": {"pivot_root": 41, "capset": 91, "capget": 90}}


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, "{}: {}".format(what, os.strerror(err)))
    return result


def unshare(flags):
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd, nstype=0):
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(source, target, fstype, flags=0, data=None):
    _check(_libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)),
           "mount {} on {}".format(source, target))


def umount(target, flags=0):
    _check(_libc.umount2(_b(target), ctypes.c_int(flags)), "umount {}".format(target))


def _syscall(name):
    table = _SYSCALLS.get(platform.machine())
    if table is None:
        raise OSError(errno.ENOSYS, "unsupported architecture {}".format(platform.machine()))
    return table[name]


def pivot_root(new_root, put_old):
    _check(_libc.syscall(ctypes.c_long(_syscall("pivot_root")), _b(new_root), _b(put_old)), "pivot_root")


def prctl(option, arg2=0, arg3=0, arg4=0, arg5=0):
    _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3), ctypes.c_ulong(arg4),
                       ctypes.c_ulong(arg5)), "prctl({})".format(option))


def sethostname(name):
    data = name.encode()
    _check(_libc.sethostname(data, ctypes.c_size_t(len(data))), "sethostname")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def capset(effective, permitted, inheritable):
    """Set this thread's capability sets (64-bit masks) with the v3 ABI."""
    header = _CapHeader(0x20080522, 0)
    data = (_CapData * 2)()
    for i in range(2):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.syscall(ctypes.c_long(_syscall("capset")), ctypes.byref(header), data), "capset")


def _b(value):
    if value is None:
        return None
    return value.encode() if isinstance(value, str) else value


def last_cap():
    try:
        with open("/proc/sys/kernel/cap_last_cap") as handle:
            return int(handle.read())
    except OSError:
        return 40


def loopback_up():
    """Bring `lo` up in the current network namespace (SIOCGIFFLAGS/SIOCSIFFLAGS), without spawning ip."""
    import fcntl
    import socket
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        req = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock.fileno(), siocgifflags, req))[1]
        fcntl.ioctl(sock.fileno(), siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))
