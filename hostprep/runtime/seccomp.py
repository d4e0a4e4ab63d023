"""The container's seccomp filter: the effect of Docker's default profile, as classic BPF, standard library only.

Docker's profile (moby profiles/seccomp/default.json) is an allow list with EPERM for everything else; which of
its conditional entries apply depends on the container's capabilities. hostprep-runtime's containers have
Docker's default capabilities and never CAP_SYS_ADMIN, so the list below is the profile resolved for them:

- allowed: the profile's unconditional names, chroot (CAP_SYS_CHROOT), arch_prctl and modify_ldt on x86_64,
  ptrace and process_vm_readv/writev from Linux 4.8 on (before 4.8 ptrace could bypass seccomp);
- allowed with an argument check: clone without namespace flags, socket of the families Docker allows,
  personality with the values Docker allows, and ioctl except TIOCSTI and TIOCLINUX (pushing keystrokes into a
  terminal; not in Docker's profile, it is why the issue asked);
- clone3: ENOSYS, so that a libc falls back to clone (whose flags a filter can see);
- everything else, e.g. mount, umount2, unshare, setns, keyctl, add_key, request_key, bpf, perf_event_open,
  userfaultfd, kexec_*, *_module, open_by_handle_at, reboot, swapon/off, settimeofday, clock_settime, acct,
  pivot_root, quotactl, lookup_dcookie, iopl, ioperm, syslog, sethostname, io_uring_*: EPERM.

The architecture is checked first: a call made with another architecture's numbers (i386 `int 0x80` on
x86_64, AArch32 on aarch64, or x86_64's x32 ABI) kills the process, since its numbers mean other calls.
Docker allows the 32-bit ABIs with their own tables; this filter has none, so they are refused whole.

The program is a binary search over the system call number, so a call costs about ten comparisons.
`python -m hostprep.runtime.seccomp [NAME...]` prints each call's verdict (and `--asm` the program).
"""

import os
import struct

from hostprep.runtime import syscall_numbers

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000

RET_KILL_PROCESS = 0x80000000  # read as SECCOMP_RET_KILL (the thread) by kernels before 4.14
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
EPERM = 1
ENOSYS = 38

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

# classic BPF opcodes (linux/filter.h)
LD_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS: A = 32-bit word at offset k of seccomp_data
JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
JGE = 0x35  # BPF_JMP | BPF_JGE | BPF_K
JSET = 0x45  # BPF_JMP | BPF_JSET | BPF_K
JA = 0x05  # BPF_JMP | BPF_JA
RET = 0x06  # BPF_RET | BPF_K

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]. Both architectures are
# little-endian, so an argument's low 32 bits are at 16 + 8 * i. Every argument checked here is read by the
# kernel as a 32-bit int (socket's family, personality, ioctl's request) or has all the checked bits in the low
# word (clone's flags), so the low word is what decides.
OFF_NR = 0
OFF_ARCH = 4


def _arg(i):
    return 16 + 8 * i


ALLOWED = """
accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32 clock_adjtime
clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1
epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2
fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat
fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait
futex_waitv futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid
getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom
getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt
get_thread_area gettid gettimeofday getuid getuid32 getxattr getxattrat inotify_add_watch inotify_init
inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents io_pgetevents io_pgetevents_time64
ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule landlock_create_ruleset
landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listmount listxattr listxattrat llistxattr
_llseek lremovexattr lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier memfd_create
memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr
mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap
mseal msgctl msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat
_newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free
pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6
pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg
recvmmsg_time64 recvmsg remap_file_pages removexattr removexattrat rename renameat renameat2 restart_syscall
riscv_hwprobe rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield
seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg
sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid
setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit
set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32 setxattr setxattrat shmat
shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice
stat stat64 statfs statfs64 statmount statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill
time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64
timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate
truncate64 ugetrlimit umask uname unlink unlinkat uretprobe utime utimensat utimensat_time64 utimes vfork
vmsplice wait4 waitid waitpid write writev
chroot
""".split()  # noqa: SIM905 - the profile's names as a block of text, easy to compare with it
ALLOWED_BY_ARCH = {"x86_64": ["arch_prctl", "modify_ldt"], "aarch64": []}
ALLOWED_FROM_4_8 = ["ptrace", "process_vm_readv", "process_vm_writev"]

# clone: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET (Docker's mask 2114060288)
CLONE_NAMESPACE_FLAGS = 0x7E020000
# socket: every family below 12, and these (Docker's list: no DECnet, Econet, ATM SVC, IrDA, WAN pipe, ISDN, ...)
SOCKET_FAMILIES = (13, 14, 15, 16, 17, 18, 21, 22, 24, 26, 27, 28, 29, 30, 31, 32, 33, 35, 36, 39, 41, 42, 43, 44,
                   45)
PERSONALITIES = (0, 8, 0x20000, 0x20008, 0xFFFFFFFF)  # PER_LINUX, UNAME26, ADDR_NO_RANDOMIZE (+8), query
TIOCSTI = 0x5412
TIOCLINUX = 0x541C

DENY = "deny"
ALLOW = "allow"
KILL = "kill"
NOSYS = "enosys"


def kernel_at_least(major, minor, release=None):
    parts = (release or os.uname().release).split(".")
    try:
        return (int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)) >= (major, minor)
    except (IndexError, ValueError):
        return False


def table(machine):
    """The name -> number table of an architecture (OSError for one this filter does not know)."""
    if machine == "x86_64":
        return syscall_numbers.X86_64
    if machine == "aarch64":
        return syscall_numbers.AARCH64
    import errno

    raise OSError(errno.ENOSYS, "no seccomp filter for architecture {}".format(machine))


def rules(machine, release=None):
    """number -> verdict: ALLOW, NOSYS, or the name of an argument check; numbers not listed are denied."""
    numbers = table(machine)
    names = list(ALLOWED) + ALLOWED_BY_ARCH.get(machine, [])
    if kernel_at_least(4, 8, release):
        names += ALLOWED_FROM_4_8
    out = {numbers[n]: ALLOW for n in names if n in numbers}
    for special in ("clone", "socket", "personality", "ioctl"):
        out[numbers[special]] = special
    out[numbers["clone3"]] = NOSYS
    return out


def _segments(verdicts, machine):
    """[(start, verdict)]: the 32-bit number space cut where the verdict changes (each special call alone)."""
    marks = {0: DENY}
    for nr in sorted(verdicts):
        v = verdicts[nr]
        marks[nr] = v
        marks.setdefault(nr + 1, DENY)
    if machine == "x86_64":  # the x32 ABI: the same table with bit 30 set
        marks[X32_SYSCALL_BIT] = KILL
        marks[0x80000000] = DENY
    segs = []
    for start in sorted(marks):
        v = marks[start]
        if segs and segs[-1][1] == v and v in (ALLOW, DENY, KILL):
            continue  # an extension of the previous range
        segs.append((start, v))
    return segs


def _ret(value):
    return [(RET, 0, 0, value)]


def _leaf(verdict):
    deny = RET_ERRNO | EPERM
    if verdict == ALLOW:
        return _ret(RET_ALLOW)
    if verdict == DENY:
        return _ret(deny)
    if verdict == KILL:
        return _ret(RET_KILL_PROCESS)
    if verdict == NOSYS:
        return _ret(RET_ERRNO | ENOSYS)
    if verdict == "clone":  # no namespace flag -> allow
        return [(LD_ABS, 0, 0, _arg(0)), (JSET, 0, 1, CLONE_NAMESPACE_FLAGS)] + _ret(deny) + _ret(RET_ALLOW)
    if verdict == "ioctl":
        return [(LD_ABS, 0, 0, _arg(1)), (JEQ, 2, 0, TIOCSTI), (JEQ, 1, 0, TIOCLINUX)] + _ret(RET_ALLOW) + _ret(deny)
    if verdict == "personality":
        k = len(PERSONALITIES)
        checks = [(JEQ, k - i, 0, v) for i, v in enumerate(PERSONALITIES)]
        return [(LD_ABS, 0, 0, _arg(0))] + checks + _ret(deny) + _ret(RET_ALLOW)
    if verdict == "socket":
        k = len(SOCKET_FAMILIES)
        checks = [(JEQ, k - i, 0, v) for i, v in enumerate(SOCKET_FAMILIES)]
        return [(LD_ABS, 0, 0, _arg(0)), (JGE, 0, k + 1, 12)] + checks + _ret(deny) + _ret(RET_ALLOW)
    raise ValueError("unknown verdict {!r}".format(verdict))


def _tree(segs):
    """A binary search over the segments; A holds the number. `jge` falls through to a `ja` over the lower half
    (a jump of any length), so no 8-bit conditional offset is ever too short."""
    if len(segs) == 1:
        return _leaf(segs[0][1])
    mid = len(segs) // 2
    low = _tree(segs[:mid])
    high = _tree(segs[mid:])
    return [(JGE, 0, 1, segs[mid][0]), (JA, 0, 0, len(low))] + low + high


def program(machine=None, release=None):
    """The filter as a list of (code, jt, jf, k) for `machine` (default: this one)."""
    machine = machine or os.uname().machine
    segs = _segments(rules(machine, release), machine)
    head = [(LD_ABS, 0, 0, OFF_ARCH), (JEQ, 1, 0, AUDIT_ARCH[machine])] + _ret(RET_KILL_PROCESS)
    return head + [(LD_ABS, 0, 0, OFF_NR)] + _tree(segs)


def evaluate(prog, nr, arch, args=()):
    """Run a program over one seccomp_data as the kernel would; returns the 32-bit verdict (for tests and dumps)."""
    args = list(args) + [0] * (6 - len(args))
    data = struct.pack("<IIQ6Q", nr & 0xFFFFFFFF, arch, 0, *[a & 0xFFFFFFFFFFFFFFFF for a in args])
    acc = 0
    pc = 0
    while True:
        code, jt, jf, k = prog[pc]
        pc += 1
        if code == LD_ABS:
            acc = struct.unpack_from("<I", data, k)[0]
        elif code == RET:
            return k
        elif code == JA:
            pc += k
        elif code in (JEQ, JGE, JSET):
            hit = acc == k if code == JEQ else acc >= k if code == JGE else bool(acc & k)
            pc += jt if hit else jf
        else:
            raise ValueError("opcode {:#x} at {}".format(code, pc - 1))


def encode(prog):
    """struct sock_filter[]: u16 code, u8 jt, u8 jf, u32 k each."""
    if len(prog) > 4096:  # BPF_MAXINSNS
        raise ValueError("seccomp program of {} instructions is too long".format(len(prog)))
    return b"".join(struct.pack("=HBBI", *ins) for ins in prog)


def install_default_filter():
    """Install the filter in this process (and what it execs); OSError when the kernel refuses it.

    Sets no_new_privs first, which the kernel demands of a process without CAP_SYS_ADMIN.
    """
    import _ctypes

    from hostprep.runtime import linux

    raw = encode(program())

    class _Char(_ctypes._SimpleCData):
        _type_ = "c"

    class _Filters(_ctypes.Array):
        _type_ = _Char
        _length_ = len(raw)

    buf = _Filters.from_buffer_copy(raw)
    fprog = struct.pack("@HP", len(raw) // 8, _ctypes.addressof(buf))  # struct sock_fprog
    linux.prctl(PR_SET_NO_NEW_PRIVS, 1)
    linux.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fprog)
    del buf


def verdict_name(value):
    if value == RET_ALLOW:
        return "allow"
    if value == RET_KILL_PROCESS:
        return "kill"
    if value & 0xFFFF0000 == RET_ERRNO:
        return "errno {}".format(os.strerror(value & 0xFFFF))
    return hex(value)


def dump(machine=None, names=None, asm=False, out=None):
    """Print each call's verdict without arguments (the filter as a table), or the program."""
    import sys

    out = out or sys.stdout
    machine = machine or os.uname().machine
    prog = program(machine)
    if asm:
        for i, (code, jt, jf, k) in enumerate(prog):
            out.write("{:4d}  code={:#06x} jt={:<3d} jf={:<3d} k={:#010x}\n".format(i, code, jt, jf, k))
        return
    numbers = table(machine)
    for name in names or sorted(numbers, key=numbers.get):
        if name not in numbers:
            out.write("{:<24} (no such call on {})\n".format(name, machine))
            continue
        special = rules(machine).get(numbers[name])
        note = " (arguments checked)" if special in ("clone", "socket", "personality", "ioctl") else ""
        out.write("{:<24} {:>4}  {}{}\n".format(name, numbers[name],
                                               verdict_name(evaluate(prog, numbers[name], AUDIT_ARCH[machine])),
                                               note))


if __name__ == "__main__":
    import sys

    argv = sys.argv[1:]
    dump(names=[a for a in argv if not a.startswith("-")] or None, asm="--asm" in argv)
