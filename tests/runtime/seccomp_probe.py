"""Attempt system calls from forked children, with or without hostprep-runtime's seccomp filter installed.

Run by tests/runtime/test_seccomp.py under every Python the runtime supports (3.6 included, so standard library
only, no f-strings with `=`): `python seccomp_probe.py filter|nofilter [PROBE...]` prints one JSON object,
probe name -> {"ret": return value, "errno": errno} or {"signal": N} when the child was killed.

Every probe is harmless when the filter is missing (this runs as root on the host): arguments are chosen so the
kernel refuses the call for another reason (EINVAL, EFAULT, EBADF, ENOENT, ...) or does nothing; that other
error is what the test expects without the filter, so each check can fail both ways.
"""

import ctypes
import json
import mmap
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from hostprep.runtime import seccomp  # noqa: E402

MACHINE = os.uname().machine
NR = seccomp.table(MACHINE)
LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long
NULL = None
BAD = -1


def sys_(name, *args):
    """Raw syscall `name`; returns (ret, errno)."""
    ctypes.set_errno(0)
    conv = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    ret = LIBC.syscall(ctypes.c_long(NR[name] if isinstance(name, str) else name), *conv)
    return ret, ctypes.get_errno()


def _pty_ioctl(request):
    """`request` on a new pty made this (forked) process's controlling terminal: the terminal a container's
    command has, where TIOCSTI needs no capability (unless the kernel's dev.tty.legacy_tiocsti is 0)."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # closing one's controlling terminal hangs the session up
    master, slave = os.openpty()
    os.setsid()
    LIBC.ioctl(slave, 0x540E, 0)  # TIOCSCTTY
    arg = ctypes.create_string_buffer(b"x", 64)
    try:
        return sys_("ioctl", slave, request, arg)
    finally:
        os.close(master)
        os.close(slave)


def _clone(flags):
    ret, err = sys_("clone", flags, 0, 0, 0, 0)
    if ret == 0:  # the child of an allowed clone (a copy of this process, like fork)
        os._exit(0)
    if ret > 0:
        os.waitpid(ret, getattr(os, "__WALL", 0x40000000))
    return ret, err


def _i386_getpid():
    """getpid through `int 0x80` (the i386 ABI on an x86_64 kernel): mov eax, 20; int 0x80; ret."""
    code = b"\xb8\x14\x00\x00\x00\xcd\x80\xc3"
    area = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    area.write(code)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(area))
    return ctypes.CFUNCTYPE(ctypes.c_int)(addr)(), 0


CLONE_NEWUSER = 0x10000000
CLONE_NEWNS = 0x00020000
SIGCHLD = 17

PROBES = {
    # denied families: (call, what the kernel says without the filter is anything but EPERM)
    "mount": lambda: sys_("mount", b"none", b"/nonexistent-hostprep/x", b"hostprep-bogusfs", 0, NULL),
    "umount2": lambda: sys_("umount2", b"/nonexistent-hostprep/x", 0),
    "unshare_user": lambda: sys_("unshare", CLONE_NEWUSER),
    "unshare_mnt": lambda: sys_("unshare", CLONE_NEWNS),
    "clone_newuser": lambda: _clone(CLONE_NEWUSER | SIGCHLD),
    "clone_newns": lambda: _clone(CLONE_NEWNS | SIGCHLD),
    "clone3": lambda: sys_("clone3", NULL, 0),
    "setns": lambda: sys_("setns", BAD, 0),
    "keyctl": lambda: sys_("keyctl", 0xDEAD, 0, 0, 0, 0),
    "add_key": lambda: sys_("add_key", b"bogus-type-hostprep", b"x", NULL, 0, -3),
    "request_key": lambda: sys_("request_key", b"bogus-type-hostprep", b"x", NULL, -3),
    "bpf": lambda: sys_("bpf", 0xDEAD, NULL, 0),
    "perf_event_open": lambda: sys_("perf_event_open", NULL, 0, BAD, BAD, 0),
    "userfaultfd": lambda: sys_("userfaultfd", 0xDEAD00),
    "kexec_load": lambda: sys_("kexec_load", 0, 0, NULL, 0xDEAD0000),
    "kexec_file_load": lambda: sys_("kexec_file_load", BAD, BAD, 0, NULL, 0xDEAD0000),
    "init_module": lambda: sys_("init_module", NULL, 0, NULL),
    "finit_module": lambda: sys_("finit_module", BAD, b"", 0),
    "delete_module": lambda: sys_("delete_module", b"hostprep_no_such_module", 0),
    "open_by_handle_at": lambda: sys_("open_by_handle_at", BAD, NULL, 0),
    "reboot": lambda: sys_("reboot", 0, 0, 0, NULL),  # wrong magic numbers: EINVAL without the filter
    "swapon": lambda: sys_("swapon", b"/nonexistent-hostprep/swap", 0),
    "swapoff": lambda: sys_("swapoff", b"/nonexistent-hostprep/swap"),
    "settimeofday": lambda: sys_("settimeofday", NULL, NULL),  # both NULL: changes nothing
    "clock_settime": lambda: sys_("clock_settime", BAD, NULL),
    "acct": lambda: sys_("acct", b"/nonexistent-hostprep/acct"),
    "pivot_root": lambda: sys_("pivot_root", NULL, NULL),
    "quotactl": lambda: sys_("quotactl", 0, NULL, 0, NULL),
    "lookup_dcookie": lambda: sys_("lookup_dcookie", 0, NULL, 0),
    "syslog": lambda: sys_("syslog", 0xDEAD, NULL, 0),
    "sethostname": lambda: sys_("sethostname", NULL, BAD),  # negative length: EINVAL without the filter
    "io_uring_setup": lambda: sys_("io_uring_setup", 0, NULL),
    "fsopen": lambda: sys_("fsopen", NULL, 0),
    "personality_exec": lambda: sys_("personality", 0x0400000),  # READ_IMPLIES_EXEC
    "socket_decnet": lambda: sys_("socket", 12, 1, 0),
    "ioctl_tiocsti": lambda: _pty_ioctl(0x5412),
    "ioctl_tioclinux": lambda: _pty_ioctl(0x541C),
    # permitted: the same answer with and without the filter
    "getpid": lambda: sys_("getpid"),
    "socket_inet": lambda: sys_("socket", 2, 2, 0),
    "clone_plain": lambda: _clone(SIGCHLD),
    "personality_query": lambda: sys_("personality", 0xFFFFFFFF),
    "ioctl_tcgets": lambda: _pty_ioctl(0x5401),
    "chroot": lambda: sys_("chroot", b"/"),
    "ptrace": lambda: sys_("ptrace", 2, 1 << 30, 0, 0),  # PEEKDATA of no such process: ESRCH
    "name_to_handle_at": lambda: sys_("name_to_handle_at", BAD, NULL, NULL, NULL, 0),
    # other ABIs
    "x32_getpid": lambda: sys_(0x40000000 | NR["getpid"]),
}
if MACHINE == "x86_64":
    PROBES.update({
        "iopl": lambda: sys_("iopl", 99),
        "ioperm": lambda: sys_("ioperm", 0x10000, 1, 0),
        "i386_getpid": _i386_getpid,
    })


def run_probe(name, with_filter):
    """Fork, optionally install the filter, run one probe; the result as a dict."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            if with_filter:
                seccomp.install_default_filter()
            ret, err = PROBES[name]()
            os.write(w, json.dumps({"ret": ret, "errno": err}).encode())
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            os.write(w, json.dumps({"error": repr(exc)}).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return json.loads(data.decode()) if data else {"error": f"no answer, status {status}"}


def main(argv):
    with_filter = argv[0] == "filter"
    names = argv[1:] or sorted(PROBES)
    print(json.dumps({name: run_probe(name, with_filter) for name in names}, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
