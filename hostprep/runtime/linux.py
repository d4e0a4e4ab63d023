"""Linux system calls Python 3.6 lacks (unshare, setns, mount, pivot_root, prctl, capset), via _ctypes.

`_ctypes` directly rather than `ctypes`: the `ctypes` package costs ~3 ms of import on every start, and this
module is on the path of every `run`. Only plain int/bytes/None arguments are passed (ints go as C int,
sign-extended to 64 bits by libffi; every flag used here is below 2**31).
"""

import _ctypes
import os
import time

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
MS_SHARED = 1 << 20
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4

KEYCTL_JOIN_SESSION_KEYRING = 1
TIOCSCTTY = 0x540E

_SYSCALLS = {"x86_64": {"pivot_root": 155, "capset": 126, "capget": 125, "keyctl": 250, "close_range": 436},
             "aarch64": {"pivot_root": 41, "capset": 91, "capget": 90, "keyctl": 219, "close_range": 436}}

_TRACE = os.environ.get("HOSTPREP_RUNTIME_TRACE")


def trace(label):
    """HOSTPREP_RUNTIME_TRACE=1: one line per step on stderr, CLOCK_MONOTONIC ns (comparable across processes)."""
    if _TRACE:
        now = int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1e9)  # perf_counter_ns is Python 3.7+
        os.write(2, "hostprep-runtime-trace {} {} {}\n".format(now, os.getpid(), label).encode())


class _CInt(_ctypes._SimpleCData):
    _type_ = "i"


class _Lib:
    def __init__(self):
        try:  # the soname directly: ctypes.util.find_library would spawn ldconfig
            self._handle = _ctypes.dlopen("libc.so.6", 2)  # RTLD_NOW
        except OSError:
            self._handle = _ctypes.dlopen(None, 2)  # the libc the interpreter itself links (musl, ...)


class _Fn(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _CInt


_LIBC = _Lib()
_unshare = _Fn(("unshare", _LIBC))
_setns = _Fn(("setns", _LIBC))
_mount = _Fn(("mount", _LIBC))
_umount2 = _Fn(("umount2", _LIBC))
_syscall_fn = _Fn(("syscall", _LIBC))
_prctl = _Fn(("prctl", _LIBC))
_sethostname = _Fn(("sethostname", _LIBC))
_socket = _Fn(("socket", _LIBC))
_ioctl = _Fn(("ioctl", _LIBC))


def _check(result, what):
    if result != 0:
        err = _ctypes.get_errno()
        raise OSError(err, "{}: {}".format(what, os.strerror(err)))
    return result


def unshare(flags):
    _check(_unshare(flags), "unshare")


def setns(fd, nstype=0):
    _check(_setns(fd, nstype), "setns")


def mount(source, target, fstype, flags=0, data=None):
    _check(_mount(_b(source), _b(target), _b(fstype), flags, _b(data)), "mount {} on {}".format(source, target))


def umount(target, flags=0):
    _check(_umount2(_b(target), flags), "umount {}".format(target))


def _syscall(name):
    machine = os.uname().machine
    table = _SYSCALLS.get(machine)
    if table is None:
        import errno

        raise OSError(errno.ENOSYS, "unsupported architecture {}".format(machine))
    return table[name]


def pivot_root(new_root, put_old):
    _check(_syscall_fn(_syscall("pivot_root"), _b(new_root), _b(put_old)), "pivot_root")


def prctl(option, arg2=0, arg3=0, arg4=0, arg5=0):
    _check(_prctl(option, arg2, arg3, arg4, arg5), "prctl({})".format(option))


def sethostname(name):
    data = name.encode()
    _check(_sethostname(data, len(data)), "sethostname")


def capset(effective, permitted, inheritable):
    """Set this thread's capability sets (64-bit masks) with the v3 ABI (header and two data structs)."""
    header = (0x20080522).to_bytes(4, "little") + (0).to_bytes(4, "little")
    data = b""
    for shift in (0, 32):
        for mask in (effective, permitted, inheritable):
            data += ((mask >> shift) & 0xFFFFFFFF).to_bytes(4, "little")
    _check(_syscall_fn(_syscall("capset"), header, data), "capset")


def join_new_session_keyring():
    """Give this process a new anonymous session keyring (and its children, unless they make their own)."""
    serial = _syscall_fn(_syscall("keyctl"), KEYCTL_JOIN_SESSION_KEYRING, None)
    if serial < 0:
        _check(serial, "keyctl(KEYCTL_JOIN_SESSION_KEYRING)")
    return serial


class _Char(_ctypes._SimpleCData):
    _type_ = "c"


class _WinSize(_ctypes.Array):
    _type_ = _Char
    _length_ = 8  # struct winsize: four unsigned shorts


def copy_window_size(source, target):
    """The terminal size of `source` onto the terminal `target`; False when `source` is no terminal.

    Through libc (not fcntl/termios): the container's side calls it after pivot_root, where the host's
    extension modules are out of reach.
    """
    size = _WinSize()
    if _ioctl(source, 0x5413, size) != 0:  # TIOCGWINSZ
        return False
    return _ioctl(target, 0x5414, size) == 0  # TIOCSWINSZ


def set_controlling_terminal(fd):
    _check(_ioctl(fd, TIOCSCTTY, 0), "ioctl(TIOCSCTTY)")


def close_fds_except(keep=()):
    """Close every descriptor from 3 up but those in `keep`: close_range(2) (Linux 5.9), else one close per open
    descriptor listed in /proc/self/fd (never a loop up to RLIMIT_NOFILE, which may be a million)."""
    first = 3
    for fd in sorted(set(k for k in keep if k is not None and k >= 3)) + [None]:
        if fd is None:
            _close_range(first, None)
            return
        if fd > first:
            _close_range(first, fd - 1)
        first = fd + 1


def _close_range(first, last):
    try:
        if _syscall_fn(_syscall("close_range"), first, -1 if last is None else last, 0) == 0:  # -1 is ~0U
            return
    except OSError:  # an architecture without the table
        pass
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        os.closerange(first, 65536 if last is None else last + 1)
        return
    for name in names:
        fd = int(name)
        if fd >= first and (last is None or fd <= last):
            try:
                os.close(fd)
            except OSError:  # the descriptor listdir itself used
                pass


def _b(value):
    if value is None:
        return None
    return value.encode() if isinstance(value, str) else value


def last_cap():
    try:
        fd = os.open("/proc/sys/kernel/cap_last_cap", os.O_RDONLY | os.O_CLOEXEC)
        try:
            return int(os.read(fd, 32))
        finally:
            os.close(fd)
    except (OSError, ValueError):
        return 40


def loopback_up():
    """Bring `lo` up in the current network namespace (SIOCSIFFLAGS on a datagram socket), without spawning ip.

    A new namespace's `lo` has exactly IFF_LOOPBACK set, so IFF_UP|IFF_LOOPBACK is what `ip link set lo up` sets.
    """
    fd = _socket(2, 2 | 0o2000000, 0)  # AF_INET, SOCK_DGRAM|SOCK_CLOEXEC
    if fd < 0:
        _check(fd, "socket")
    try:
        ifreq = b"lo".ljust(16, b"\0") + (0x1 | 0x8).to_bytes(2, "little") + bytes(22)
        _check(_ioctl(fd, 0x8914, ifreq), "SIOCSIFFLAGS lo")
    finally:
        os.close(fd)
