"""The container's process and its supervisor: death with the supervisor, inherited descriptors, a session
of its own, stdin/stdout/stderr or a pty of its own (-i/-t), exec, the tiny init, and on the host's side the
signal forwarding, the pty relay and the exit code.

Nothing the caller of the CLI holds reaches the container: every descriptor from 3 up is closed before the
container's working directory is entered and its program is exec'd (an inherited directory descriptor is a
way to the host's root, runc's CVE-2024-21626), and the container is a session of its own without a
controlling terminal, so TIOCSTI cannot push keystrokes into the caller's shell; with -t it gets a pty of its
own, made from its own devpts instance.
"""

import _signal
import os
import sys

from hostprep.runtime import linux

FORWARDED = (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP, _signal.SIGQUIT, _signal.SIGUSR1, _signal.SIGUSR2)


def die_with_parent(parent=None):
    """SIGKILL when the supervisor (the parent) dies, so that a killed CLI never leaves a container
    behind unsupervised (for PID 1 the kernel then kills every process of the namespace).

    `parent`, the pid the parent had before the fork, closes the window in which it died before the call
    (then this process has been given to another); PID 1, whose parent is outside its PID namespace, tells the
    supervisor instead (see container._start).
    """
    linux.prctl(linux.PR_SET_PDEATHSIG, _signal.SIGKILL)
    if parent is not None and os.getppid() != parent:
        os._exit(125)


def not_dumpable():
    """Until exec (which makes it dumpable again for the container's own program), this process, a copy of the
    host's Python, is out of the container's reach: without CAP_SYS_PTRACE nothing in the container can open its
    /proc/PID/exe (the host's interpreter, CVE-2019-5736's way to overwrite it), fd, mem or environ, nor ptrace
    it. Inherited by fork, so the exec helper is covered from its first instruction."""
    linux.prctl(linux.PR_SET_DUMPABLE, 0)


def close_inherited_fds(keep=()):
    linux.close_fds_except(keep)


def new_session():
    """A session without a controlling terminal: the caller's terminal (if any) is no longer the container's."""
    os.setsid()


def console_socket():
    """A socket pair over which the container sends the master of its pty (SCM_RIGHTS), as runc's
    --console-socket: (host end, container end), both plain descriptors."""
    import _socket

    host, ctr = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    return host.detach(), ctr.detach()


def setup_stdio(tty, interactive, console_fd, bind_console=True):
    """In the container, after pivot_root: with `tty` a pty from the container's own devpts, its master sent
    to the supervisor, the slave as controlling terminal, stdin/out/err and (for PID 1) /dev/console; else
    stdin is /dev/null unless `interactive` (-i), as with Docker."""
    if tty:
        import _socket

        master, slave = os.openpty()
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, console_fd)
        try:
            sock.sendmsg([b"t"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, master.to_bytes(4, sys.byteorder))])
        finally:
            sock.close()
            os.close(master)
        for fd in (0, 1, 2):  # the caller's terminal, if any: the size is there before the program starts
            if linux.copy_window_size(fd, slave):
                break
        linux.set_controlling_terminal(slave)
        if bind_console:
            linux.mount(os.ttyname(slave), "/dev/console", None, linux.MS_BIND)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.close(slave)
    elif not interactive:
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)


def receive_console(host_fd):
    """The pty master the container sends over `host_fd`, or None when it failed before."""
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, host_fd)
    try:
        _, ancillary, _, _ = sock.recvmsg(1, _socket.CMSG_SPACE(4))
    finally:
        sock.close()
    for level, kind, data in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS and len(data) >= 4:
            return int.from_bytes(data[:4], sys.byteorder)
    return None


def relay(master, interactive):
    """Copy the container's pty to stdout (and stdin to it with -i) until every slave is closed; the caller's
    terminal is raw meanwhile, so that keys such as ^C go to the container's terminal, and its size follows
    the caller's (SIGWINCH)."""
    import select

    restore = None
    if interactive and os.isatty(0):
        import termios
        import tty

        restore = termios.tcgetattr(0)
        tty.setraw(0)
    _copy_window_size(master)
    resized = _signal.signal(_signal.SIGWINCH, lambda s, f: _copy_window_size(master))
    sources = [master] + ([0] if interactive else [])
    try:
        while True:
            ready, _, _ = select.select(sources, [], [])
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every slave is closed, the container is gone
                    data = b""
                if not data:
                    break
                _write_all(1, data)
            if 0 in ready:
                data = os.read(0, 65536)
                if data:
                    _write_all(master, data)
                else:
                    sources.remove(0)
                    _write_all(master, b"\x04")  # end of input: the terminal's EOF character
    finally:
        _signal.signal(_signal.SIGWINCH, resized)
        if restore is not None:
            import termios

            termios.tcsetattr(0, termios.TCSADRAIN, restore)
        os.close(master)


def _copy_window_size(master):
    import fcntl
    import termios

    for fd in (0, 1):
        if os.isatty(fd):
            try:
                size = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
                fcntl.ioctl(master, termios.TIOCSWINSZ, size)
            except OSError:
                pass
            return


def _write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


def execvpe(cmd, env):
    """os.execvpe without its lazy `import warnings`: after pivot_root the host's modules are out of reach.

    Like execvp(3): the first error other than "not found" wins, else the last one.
    """
    name = cmd[0]
    if "/" in name:
        os.execve(name, cmd, env)
    first = last = None
    for directory in (env.get("PATH") or "/usr/local/bin:/usr/bin:/bin").split(":"):
        try:
            os.execve((directory or ".") + "/" + name, cmd, env)
        except (FileNotFoundError, NotADirectoryError) as exc:
            last = exc
        except OSError as exc:
            last = exc
            first = first or exc
    raise first or last or FileNotFoundError(2, "No such file or directory", name)


def exec_command(cmd, env):
    """Exec the container's command; on failure exit 127 (not found) or 126, as a shell does."""
    try:
        execvpe(cmd, env)
    except OSError as exc:
        os.write(2, "hostprep-runtime: exec {}: {}\n".format(cmd[0], exc.strerror).encode())
        os._exit(127 if exc.errno == 2 else 126)


def tiny_init(cmd, env, tty):
    """--init: PID 1 forks the command, forwards signals to it and reaps every zombie.

    This Python process stays in the container as PID 1: it is made non-dumpable, so that the container
    (without CAP_SYS_PTRACE) cannot open its /proc/1/exe (the host's interpreter) or /proc/1/fd.
    """
    not_dumpable()  # already so since _start; said here because this process outlives the exec of the command
    child = os.fork()
    if child == 0:
        if not tty:  # with a pty the command keeps it as its controlling terminal
            os.setsid()
        exec_command(cmd, env)
    for sig in FORWARDED:
        _signal.signal(sig, lambda s, f: os.kill(child, s))
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        if pid == child:
            os._exit(exit_code(status))


# A detached container's monitor told to end (SIGTERM: systemd stopping the unit or session it runs in at
# shutdown, as dockerd is stopped): the container is stopped as `stop` does it, SIGTERM then SIGKILL after a
# grace period, and not restarted by the monitor. Without the SIGKILL a PID 1 that ignores SIGTERM (the kernel
# drops unhandled signals to a namespace's init) kept every reboot waiting for systemd's 90 s stop timeout.
_term = {"grace": None, "received": False}


def stop_on_term(grace):
    """From now on, a SIGTERM forwarded by wait_forwarding is followed by SIGKILL after `grace` seconds."""
    _term["grace"] = grace


def terminated():
    """Whether this process has been told to end (a SIGTERM under stop_on_term)."""
    return _term["received"]


def wait_forwarding(pid, signals=FORWARDED, console=None, interactive=False):
    """Forward `signals` to `pid` while waiting for it (relaying its pty first, if any); restore the handlers;
    return its exit code. waitpid is retried by Python itself when a signal interrupts it (PEP 475)."""
    grace = _term["grace"]

    def forward(sig, frame):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:  # reaped already: the handlers are being restored
            return
        if sig == _signal.SIGTERM and grace is not None and not _term["received"]:
            _term["received"] = True
            _signal.setitimer(_signal.ITIMER_REAL, grace)

    def kill(sig, frame):
        try:
            os.kill(pid, _signal.SIGKILL)
        except ProcessLookupError:
            pass

    old = {sig: _signal.signal(sig, forward) for sig in signals}
    if grace is not None:
        old[_signal.SIGALRM] = _signal.signal(_signal.SIGALRM, kill)
    try:
        if console is not None:
            relay(console, interactive)
        _, status = os.waitpid(pid, 0)
    finally:
        if grace is not None:
            _signal.setitimer(_signal.ITIMER_REAL, 0)
        for sig, handler in old.items():
            _signal.signal(sig, handler)
    return exit_code(status)


def exit_code(status):
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def report_and_exit(exc, code=125):
    """Leave a process of the container's setup with a message, never falling back into the caller's code."""
    os.write(2, "hostprep-runtime: container setup failed: {}\n".format(exc).encode())
    os._exit(code)
