"""Starting a container, as the sequence of steps it takes (runc's libcontainer, crun's container_init_setup).

`run` builds the spec from the options (spec.py), then the supervisor (the CLI for a foreground run, a
detached monitor for -d) unshares the PID namespace for its children only, forks the container's PID 1 and
puts its own pid_for_children back. PID 1 runs `_start` below: namespaces while the supervisor makes the
container's directories and cgroups, then its root filesystem (rootfs.py), its process (process.py) and its
privileges (security.py), then exec. The supervisor stays outside the container's cgroup: under a memory
limit the OOM killer must pick the command, never the (larger) Python process that reports its exit code.

This module is on the path of every `run`: it imports nothing that costs start-up time (no json, shutil,
signal, secrets; see bench/runtime/README.md).
"""

import _signal
import os
import sys
import time

from hostprep.runtime import linux, process, refs, rootfs, security
from hostprep.runtime import spec as specconv
from hostprep.runtime.cgroups import Cgroup
from hostprep.runtime.state import RunError, find, pid1_of, read_state, rmtree, start_time, write_state
from hostprep.runtime.store import Store

trace = linux.trace


def _start(spec, cgroup, sync, ack, console, errors, install_seccomp):
    """The container's PID 1, from fork to exec: every step of a container's start, in order."""
    process.die_with_parent()
    process.not_dumpable()
    os.write(ack, b"a")  # the supervisor goes on only once this process would die with it
    os.close(ack)
    process.close_inherited_fds(keep=(sync, console, errors))
    process.new_session()
    umask = os.umask(0)
    _unshare_namespaces(spec)
    _await(sync, b"g")  # the supervisor has made the container's directories and cgroups
    if cgroup.v == 1:
        cgroup.join_self()
    rootfs.make_mounts_private(spec)
    rootfs.mount_overlay(spec)
    rootfs.mount_volumes(spec)
    if spec.get("net"):  # a bridge network: the runtime's /etc/hosts and /etc/resolv.conf (network.py)
        rootfs.bind_etc_files(spec)
    trace("overlay volumes")
    rootfs.mount_proc_sys(spec)
    rootfs.mount_dev(spec)
    rootfs.mask_paths()
    rootfs.readonly_paths()
    trace("proc sys dev masked readonly")
    if cgroup.v == 2 and cgroup.paths:
        _await(sync, b"j")  # the supervisor has moved this process into the cgroup
    os.close(sync)
    rootfs.pivot()
    rootfs.write_etc_files(spec)
    rootfs.remount_root_readonly(spec)
    trace("pivot")
    linux.unshare(linux.CLONE_NEWCGROUP)  # rooted at the container's cgroup, joined by now
    linux.sethostname(spec["hostname"])
    uid, gid = security.resolve_user(spec["user"])  # in the image's /etc/passwd, inside its root
    process.setup_stdio(spec["tty"], spec["interactive"], console)
    security.own_session_keyring()
    security.drop_privileges(uid, gid)
    os.chdir(spec["workdir"])  # after the pivot and with no descriptor of the host left open
    os.umask(umask)
    process.close_inherited_fds(keep=(errors,))  # `errors` is close-on-exec
    security.apply_seccomp(install_seccomp)
    _exec(spec["cmd"], _environment(spec["env"], uid), spec["init"], spec["tty"])


def _unshare_namespaces(spec):
    flags = linux.CLONE_NEWNS | linux.CLONE_NEWUTS | linux.CLONE_NEWIPC
    if spec["network"] != "host" and not spec.get("net"):  # a bridge network's namespace is made before the fork
        flags |= linux.CLONE_NEWNET
    try:
        linux.unshare(flags)
    except OSError as exc:
        raise RunError("cannot create namespaces: {}".format(exc))
    trace("unshare")
    if spec["network"] != "host":
        try:
            linux.loopback_up()
        except OSError as exc:
            os.write(2, "hostprep-runtime: cannot bring up lo: {}\n".format(exc).encode())


def _await(sync, byte):
    """The supervisor's go-ahead; end of file instead means it failed and reports why."""
    if os.read(sync, 1) != byte:
        os._exit(125)


def _environment(env, uid):
    env = dict(env)
    env.setdefault("HOME", "/root" if uid == 0 else "/")
    return env


def _exec(cmd, env, init, tty):
    trace("exec")
    if init:
        process.tiny_init(cmd, env, tty)
    process.exec_command(cmd, env)


def run(opts, root):
    """Run a container in the foreground (or detached with opts.detach); returns the exit code."""
    trace("run")
    store = Store(root, create=False)
    cid = os.urandom(6).hex()
    spec, state = specconv.build(opts, store, root, cid)
    if opts.name:  # atomic (refs.reserve_name): of two runs with one name, exactly one gets it
        state["name"] = refs.reserve_name(root, opts.name, cid)
    try:
        cgroup = Cgroup(cid)
        state["cgroup"] = cgroup.paths
        sys.stdout.flush()
        sys.stderr.flush()
        if spec["detach"]:
            _create(spec, cgroup)  # here, so that a limit the kernel refuses is reported by this command
            try:
                return _detach(spec, cgroup, state)
            except RunError:
                if read_state(spec["dir"]) is None:  # its monitor failed before it recorded a start: nothing of
                    cgroup.remove()  # the container may stay (the record of a command that failed to exec does,
                    rmtree(spec["dir"])  # as Docker keeps one)
                raise
        if (spec.get("restart") or {}).get("name", "no") != "no":
            from hostprep.runtime.supervisor import supervise

            return supervise(spec, cgroup, state, _supervise, create=True)
        return _supervise(spec, cgroup, state, create=True)
    finally:
        if opts.name and not os.path.isdir(spec["dir"]):  # never made, or removed (--rm): the name is free
            refs.release_name(root, state["name"], cid)


def _create(spec, cgroup):
    """The container's directories (state, upper and work layers) and its cgroups with their limits."""
    cdir = spec["dir"]
    try:
        try:
            os.mkdir(cdir, 0o700)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(cdir), exist_ok=True)
            os.mkdir(cdir, 0o700)
        for sub in ("upper", "work"):
            os.mkdir(os.path.join(cdir, sub), 0o755)
        cgroup.create(**spec["limits"])
    except BaseException:
        rmtree(cdir)
        raise
    trace("created")


def _fork_pid1(spec, cgroup, errors_w):
    """Fork PID 1 into a new PID namespace; it runs _start and never returns.

    Returns (pid, sync_w, ack_r, console_host): the supervisor's go-ahead to PID 1, PID 1's word that it will
    die with the supervisor, and the socket the container's pty comes over (-t).
    """
    # imported here, before the fork: after pivot_root the host's modules are out of reach, and an import in the
    # forked child costs several times more (every page it writes is a copy-on-write fault)
    install_seccomp = security.load_seccomp(spec["seccomp"])
    sync_r, sync_w = os.pipe()
    ack_r, ack_w = os.pipe()
    console_host, console_ctr = process.console_socket() if spec["tty"] else (None, None)
    own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    own_netns = None
    if spec.get("net"):  # PID 1 is born in a network namespace the supervisor then wires up (network.attach)
        own_netns = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        # for the children only: the next fork is the container's PID 1
        linux.unshare(linux.CLONE_NEWPID | (linux.CLONE_NEWNET if own_netns is not None else 0))
        try:
            pid = os.fork()
            if pid == 0:
                try:
                    trace("pid1")
                    _start(spec, cgroup, sync_r, ack_w, console_ctr, errors_w, install_seccomp)
                except BaseException as exc:  # noqa: BLE001 - reported, never falls back into the caller's code
                    if errors_w is not None:
                        os.write(errors_w, str(exc).encode()[:4000])
                    process.report_and_exit(exc)
                finally:
                    os._exit(125)
        finally:
            linux.setns(own_pidns, linux.CLONE_NEWPID)  # later forks of this process stay in its own namespace
            if own_netns is not None:
                linux.setns(own_netns, linux.CLONE_NEWNET)
    except BaseException:
        for fd in (sync_r, sync_w, ack_r, ack_w, console_host, console_ctr):
            if fd is not None:
                os.close(fd)
        raise
    finally:
        os.close(own_pidns)
        if own_netns is not None:
            os.close(own_netns)
    os.close(sync_r)
    os.close(ack_w)
    if console_ctr is not None:
        os.close(console_ctr)
    return pid, sync_w, ack_r, console_host


def _supervise(spec, cgroup, state, create=False, ready_fd=None, keep=False):
    """Start the container, forward signals (relay its pty), wait, record the exit code, clean up.

    PID 1 is forked first and creates its namespaces while `_create` makes the container's directories and
    cgroup here (two cores, two things at once); see _start for the pipe that keeps them in step.
    """
    cdir = spec["dir"]
    errors_r, errors_w = os.pipe() if ready_fd is not None else (None, None)
    try:
        pid, sync_w, ack_r, console = _fork_pid1(spec, cgroup, errors_w)
    except BaseException:
        if not create:  # made before: remove them (`keep`: a container made earlier, started again, stays)
            cgroup.remove()
            if not keep:
                rmtree(cdir)
        raise
    finally:
        if errors_w is not None:
            os.close(errors_w)
    try:
        if create:
            _create(spec, cgroup)
        acked = os.read(ack_r, 1) == b"a"  # PID 1 dies with this process from now on (PR_SET_PDEATHSIG)
        os.close(ack_r)
        if not acked:
            raise RunError("the container's first process died before it started")
        if spec.get("net"):  # veth, address, route, ports, /etc files while PID 1 waits (network.py)
            from hostprep.runtime.network import attach

            attach(os.path.dirname(os.path.dirname(cdir)), spec, state, pid)
        os.write(sync_w, b"g")
        if cgroup.v == 2 and cgroup.paths:
            cgroup.add(pid)
            os.write(sync_w, b"j")
    except BaseException:
        os.close(sync_w)  # PID 1 reads end of file and leaves without running anything
        try:
            os.close(ack_r)
        except OSError:  # closed already
            pass
        os.waitpid(pid, 0)
        cgroup.remove()
        if not keep:
            rmtree(cdir)
        raise
    os.close(sync_w)
    trace("started")
    state.update(status="running", pid=pid, pid1=pid, started=time.time(), monitor_pid=os.getpid(),
                 monitor_start=start_time(os.getpid()))
    write_state(cdir, state)
    master = process.receive_console(console) if console is not None else None
    if ready_fd is not None:
        failure = _read_all(errors_r)
        os.write(ready_fd, b"e" + failure if failure else b"1")
        global _answered  # noqa: PLW0603 - this process (the monitor) has answered: _detach writes no more
        _answered = True
        os.close(ready_fd)  # ends the CLI's wait (and the monitor keeps no descriptor but 0, 1 and 2)
    code = process.wait_forwarding(pid, console=master, interactive=spec["interactive"])
    trace("exited")
    oom = cgroup.oom_killed() if not spec["rm"] else False
    cgroup.remove()
    trace("cgroup removed")
    if spec.get("net"):  # its ports, address and name go (the veth went with its namespace)
        from hostprep.runtime.network import detach

        detach(os.path.dirname(os.path.dirname(cdir)), state)
    state.update(status="exited", exit_code=code, finished=time.time(), oom_killed=oom)
    if spec["rm"]:
        rmtree(cdir)
        if any(v.get("anonymous") for v in spec["volumes"]):  # --rm takes its anonymous volumes along
            from hostprep.runtime.volumes import remove_anonymous

            remove_anonymous(os.path.dirname(os.path.dirname(cdir)), state)
    else:
        rmtree(os.path.join(cdir, "work"))
        write_state(cdir, state)
    trace("cleaned")
    return code


def _read_all(fd):
    """Everything written to a pipe until every writer closed it (PID 1's exec closes its end)."""
    chunks = []
    while True:
        data = os.read(fd, 4096)
        if not data:
            os.close(fd)
            return b"".join(chunks)
        chunks.append(data)


_answered = False  # whether this process (a detached monitor) has answered the CLI on the ready pipe


def _detach(spec, cgroup, state, keep=False):
    """-d: a double-forked monitor (its own session) supervises the container; the CLI prints the id once
    the container's command has been exec'd, or the reason it could not be."""
    ready_r, ready_w = os.pipe()
    first = os.fork()
    if first == 0:
        try:
            process.close_inherited_fds(keep=(ready_w,))
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            from hostprep.runtime.supervisor import monitor  # log pump, health checks, restarts

            os._exit(monitor(spec, cgroup, state, ready_w, _supervise, exec_in, keep=keep) & 0xFF)
        except BaseException as exc:  # noqa: BLE001 - told to the CLI, which reports it and fails
            if not _answered:  # else ready_w is closed, and its number may be another file's by now
                try:
                    os.write(ready_w, b"e" + (str(exc) or type(exc).__name__).encode("utf-8", "replace"))
                except OSError:
                    pass
            os._exit(125)
    os.close(ready_w)
    os.waitpid(first, 0)
    answer = _read_all(ready_r)  # "1" once running, "e" and why it failed, nothing if the monitor died first
    if answer.startswith(b"e"):
        raise RunError(answer[1:].decode("utf-8", "replace"))
    if not answer.startswith(b"1"):
        raise RunError("the container's monitor ended before the container started")
    print(state["id"])
    return 0


def exec_in(root, ref, cmd, env_extra=None, workdir=None, user=None, tty=False, interactive=False,
            security_opt=None):
    """Run a command inside a running container: its namespaces, root, cgroup, capabilities, seccomp filter,
    a session keyring of its own, no descriptor of the caller's but stdin/stdout/stderr."""
    state = find(root, ref)
    if state["status"] != "running":
        raise RunError("container {} is not running".format(state["name"]))
    pid1 = pid1_of(root, state)
    recorded = state.get("spec") or {}
    seccomp = recorded.get("seccomp", True) and specconv.parse_security_opts(security_opt)["seccomp"]
    if user is None:
        user = recorded.get("user")
        if user is None and "uid" in recorded:  # written by earlier versions
            user = "{}:{}".format(recorded["uid"], recorded.get("gid", recorded["uid"]))
    console_host, console_ctr = process.console_socket() if tty else (None, None)
    install_seccomp = security.load_seccomp(seccomp)  # before the fork, as for run (see _fork_pid1)
    cli = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            process.die_with_parent(cli)
            process.not_dumpable()  # and so the helper forked below, visible in the container until its exec
            process.close_inherited_fds(keep=(console_ctr,))
            Cgroup(state["id"]).join_self()
            root_fd = os.open("/proc/{}/root".format(pid1), os.O_RDONLY)
            fds = []
            for ns in ("cgroup", "ipc", "uts", "net", "pid", "mnt"):
                fds.append(os.open("/proc/{}/ns/{}".format(pid1, ns), os.O_RDONLY))
            for fd in fds:
                linux.setns(fd, 0)
                os.close(fd)
            os.fchdir(root_fd)
            os.chroot(".")
            os.close(root_fd)
        except BaseException as exc:
            os.write(2, "hostprep-runtime: exec: cannot join the container: {}\n".format(exc).encode())
            os._exit(125)
        child = os.fork()  # the pid namespace applies to children of the process that joined it
        if child == 0:
            try:
                process.die_with_parent()
                process.new_session()
                uid, gid = security.resolve_user(user)
                process.setup_stdio(tty, interactive, console_ctr, bind_console=False)
                security.own_session_keyring()
                security.drop_privileges(uid, gid)
                os.chdir(workdir or recorded.get("workdir") or "/")
                process.close_inherited_fds()
                env = _environment(recorded.get("env") or {}, uid)
                env.update(env_extra or {})
                security.apply_seccomp(install_seccomp)
            except BaseException as exc:  # noqa: BLE001
                process.report_and_exit(exc)
            process.exec_command(cmd, env)
        if console_ctr is not None:
            os.close(console_ctr)
        os._exit(process.wait_forwarding(child))
    if console_ctr is not None:
        os.close(console_ctr)
    master = process.receive_console(console_host) if console_host is not None else None
    return process.wait_forwarding(pid, (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP), console=master,
                                   interactive=interactive)
