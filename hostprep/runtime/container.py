"""Running a container: namespaces, an overlay root entered with pivot_root, /proc /sys /dev, masked
paths, reduced capabilities, no_new_privs, cgroup limits, and the exit code of the command.

Process layout: the supervisor (the CLI for a foreground run, a detached monitor for -d) unshares the PID
namespace for its children only, forks the container's PID 1 and puts its own pid_for_children back.
PID 1 (a freshly forked, single-threaded child) unshares the mount, UTS, IPC and network namespaces while the
supervisor makes the container's directories and cgroup, joins the cgroup, builds the root, pivots into it,
unshares the cgroup namespace, drops privileges and execs the command. The supervisor stays outside the
container's cgroup: under a memory limit the OOM killer must pick the command, never the (larger) Python
process that reports its exit code.

This module is on the path of every `run`: it imports nothing that costs start-up time (no json, shutil,
signal, secrets; see bench/runtime/README.md).
"""

import _signal
import os
import sys
import time

from hostprep.runtime import jsonio, linux
from hostprep.runtime.cgroups import Cgroup
from hostprep.runtime.store import Store

trace = linux.trace

# Docker's default capabilities (numbers from linux/capability.h)
DEFAULT_CAPS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6, "SETUID": 7,
                "SETPCAP": 8, "NET_BIND_SERVICE": 10, "NET_RAW": 13, "SYS_CHROOT": 18, "MKNOD": 27,
                "AUDIT_WRITE": 29, "SETFCAP": 31}
MASKED = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
          "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9), "tty": (5, 0)}
FORWARDED = (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP, _signal.SIGQUIT, _signal.SIGUSR1, _signal.SIGUSR2)
S_IFCHR = 0o020000


class RunError(Exception):
    """The container could not be started as asked."""


def containers_dir(root):
    path = os.path.join(root, "containers")
    os.makedirs(path, exist_ok=True)
    return path


def _write_state(cdir, state):
    tmp = os.path.join(cdir, "state.json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, jsonio.dumps(state).encode())
    finally:
        os.close(fd)
    os.replace(tmp, os.path.join(cdir, "state.json"))


def rmtree(path):
    """Remove a directory tree without following symlinks (shutil costs ~8 ms of import on the run path)."""
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    except NotADirectoryError:
        os.unlink(path)
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            rmtree(entry.path)
        else:
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                pass
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


def _resolve_user(spec, rootfs):
    """UID, GID and supplementary groups for `-u` (uid[:gid] or a name in the image's /etc/passwd)."""
    if spec is None or spec == "":
        return 0, 0
    user, _, group = str(spec).partition(":")
    uid = gid = None
    if user.isdigit():
        uid = int(user)
    else:
        for line in _read(os.path.join(rootfs, "etc/passwd")).splitlines():
            parts = line.split(":")
            if len(parts) > 3 and parts[0] == user:
                uid, gid = int(parts[2]), int(parts[3])
        if uid is None:
            raise RunError("unable to find user {}: no matching entries in passwd file".format(user))
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            for line in _read(os.path.join(rootfs, "etc/group")).splitlines():
                parts = line.split(":")
                if len(parts) > 2 and parts[0] == group:
                    gid = int(parts[2])
            if gid is None:
                raise RunError("unable to find group {}".format(group))
    return uid, gid if gid is not None else uid


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def _mkdirs_in(rootfs, path):
    rootfs = os.path.realpath(rootfs)
    target = os.path.join(rootfs, path.lstrip("/"))
    real = os.path.realpath(os.path.dirname(target))
    if not (real == rootfs or real.startswith(rootfs + "/")):
        raise RunError("mount point {} leaves the container's root".format(path))
    os.makedirs(target, exist_ok=True)
    if os.path.islink(target):
        raise RunError("mount point {} is a symbolic link".format(path))
    return target


def _mount_dir(name):
    """A top-level directory of the root (cwd) to mount on: created if missing, never through a symlink."""
    try:
        os.mkdir(name, 0o755)
    except FileExistsError:
        if os.lstat(name).st_mode & 0o170000 != 0o040000:
            raise RunError("mount point /{} is not a directory".format(name))
    return name


def _setup_root(spec):
    """In the new mount namespace, as the container's PID 1: build the root and pivot into it."""
    rootfs = spec["rootfs"]
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    lower = ":".join(reversed(spec["layers"]))
    options = "lowerdir={},upperdir={},workdir={}".format(lower, spec["upper"], spec["work"])
    if spec.get("volatile"):
        # --rm: the upper layer is removed with the container, so unmounting the overlay need not sync the
        # upper filesystem (sync_filesystem of the whole host filesystem, 1-20 ms and more under load, at every
        # exit); podman does the same for its --rm containers
        options += ",volatile"
    linux.mount("overlay", rootfs, "overlay", 0, options)
    for host, ctr, ro in spec["volumes"]:
        target = _mkdirs_in(rootfs, ctr)
        linux.mount(host, target, None, linux.MS_BIND | linux.MS_REC)
        if ro:
            linux.mount(None, target, None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_REC)
    os.chdir(rootfs)  # after the overlay mount: the cwd is the overlay's root, paths below are relative to it
    trace("overlay")
    linux.mount("proc", _mount_dir("proc"), "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    ro_flags = linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC
    if spec["network"] == "host":
        linux.mount("/sys", _mount_dir("sys"), None, linux.MS_BIND | linux.MS_REC)
        linux.mount(None, "sys", None, linux.MS_BIND | linux.MS_REMOUNT | ro_flags)
    else:
        linux.mount("sysfs", _mount_dir("sys"), "sysfs", ro_flags)
    linux.mount("tmpfs", _mount_dir("dev"), "tmpfs", linux.MS_NOSUID | linux.MS_STRICTATIME, "mode=755,size=65536k")
    for name, (major, minor) in DEVICES.items():
        path = "dev/" + name
        try:
            os.mknod(path, S_IFCHR | 0o666, os.makedev(major, minor))  # umask is 0 here
        except OSError:  # no mknod (e.g. a user namespace): bind the host's node
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666))
            linux.mount("/dev/" + name, path, None, linux.MS_BIND)
    os.mkdir("dev/pts", 0o755)
    linux.mount("devpts", "dev/pts", "devpts", linux.MS_NOSUID | linux.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
    os.symlink("pts/ptmx", "dev/ptmx")
    os.mkdir("dev/shm", 0o755)
    linux.mount("shm", "dev/shm", "tmpfs", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC, "mode=1777,size=65536k")
    os.mkdir("dev/mqueue", 0o755)
    for link, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, "dev/" + link)
    trace("proc sys dev")
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
    for path in READONLY:
        target = path[1:]
        if os.path.exists(target):
            linux.mount(target, target, None, linux.MS_BIND | linux.MS_REC)
            linux.mount(None, target, None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_REC)
    trace("masked readonly")
    # pivot_root(".", "."): the old root is stacked on the new one and detached at once, so no directory
    # has to be made (and removed again) in the container's upper layer
    linux.pivot_root(".", ".")
    linux.umount(".", linux.MNT_DETACH)
    os.chdir("/")
    # the files a resolver and hostname need, written after the pivot: a symlink in the image (etc -> /etc)
    # resolves inside the container and can never point these writes at the host's files
    try:
        try:
            os.mkdir("/etc", 0o755)
        except FileExistsError:
            pass
        _write_file("/etc/hostname", spec["hostname"] + "\n")
        if spec["network"] != "host" or not os.path.exists("/etc/hosts"):
            _write_file("/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n127.0.1.1\t{}\n".format(
                spec["hostname"]))
    except OSError:  # an image whose /etc is no directory (a dangling link): it goes without them
        pass
    if spec["read_only"]:
        linux.mount(None, "/", None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY)
    trace("pivot")


def _write_file(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _drop_privileges(spec):
    keep = 0
    for bit in DEFAULT_CAPS.values():
        keep |= 1 << bit
    for cap in range(linux.last_cap() + 1):
        if not keep & (1 << cap):
            linux.prctl(linux.PR_CAPBSET_DROP, cap)
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    uid, gid = spec["uid"], spec["gid"]
    os.setgroups([gid] if uid != 0 else [0])
    os.setgid(gid)
    os.setuid(uid)
    if uid == 0:
        linux.capset(keep, keep, 0)


def _pid1(spec, cgroup, sync):
    """The container's first process: namespaces, cgroup, root, hostname, privileges, then exec the command.

    `sync` is the supervisor's pipe: b"g" once the container's directories and cgroup exist (it makes them while
    this process creates its namespaces), then on cgroup v2 b"j" once it has moved this process into the
    cgroup (a cgroup.procs write waits for an RCU grace period: meanwhile this process builds the root).
    End of file instead means the supervisor failed and reports why.
    """
    trace("pid1")
    umask = os.umask(0)
    try:
        flags = linux.CLONE_NEWNS | linux.CLONE_NEWUTS | linux.CLONE_NEWIPC
        if spec["network"] != "host":
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
        if os.read(sync, 1) != b"g":
            os._exit(125)
        if cgroup.v == 1:
            try:
                cgroup.join_self()
            except OSError as exc:
                raise RunError("cannot join the container cgroup: {}".format(exc))
        _setup_root(spec)
        if cgroup.v == 2 and cgroup.paths and os.read(sync, 1) != b"j":
            os._exit(125)
        os.close(sync)
        linux.unshare(linux.CLONE_NEWCGROUP)  # rooted at the container's cgroup, joined by now
        linux.sethostname(spec["hostname"])
        _drop_privileges(spec)
        os.chdir(spec["workdir"] or "/")
        os.umask(umask)
    except BaseException as exc:  # report and exit without running the command
        os.write(2, "hostprep-runtime: container setup failed: {}\n".format(exc).encode())
        os._exit(125)
    env = dict(spec["env"])
    cmd = spec["cmd"]
    if spec.get("init"):
        _tiny_init(cmd, env)
    trace("exec")
    try:
        _execvpe(cmd, env)
    except OSError as exc:
        os.write(2, "hostprep-runtime: exec {}: {}\n".format(cmd[0], exc.strerror).encode())
        os._exit(127 if exc.errno == 2 else 126)


def _execvpe(cmd, env):
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


def _tiny_init(cmd, env):
    """--init: PID 1 forks the command, forwards signals to it and reaps every zombie."""
    child = os.fork()
    if child == 0:
        os.setsid()
        try:
            _execvpe(cmd, env)
        except OSError as exc:
            os.write(2, "hostprep-runtime: exec {}: {}\n".format(cmd[0], exc.strerror).encode())
            os._exit(127)
    for sig in FORWARDED:
        _signal.signal(sig, lambda s, f: os.kill(child, s))
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        if pid == child:
            os._exit(_exit_code(status))


def _wait_forwarding(pid, signals=FORWARDED):
    """Forward `signals` to `pid` while waiting for it; restore the handlers; return its exit code.

    waitpid is retried by Python itself when a signal interrupts it (PEP 475).
    """
    old = {sig: _signal.signal(sig, lambda s, f: os.kill(pid, s)) for sig in signals}
    try:
        _, status = os.waitpid(pid, 0)
    finally:
        for sig, handler in old.items():
            _signal.signal(sig, handler)
    return _exit_code(status)


def _exit_code(status):
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def run(opts, root):
    """Run a container in the foreground (or detached with opts.detach); returns the exit code."""
    trace("run")
    store = Store(root, create=False)
    manifest, config = store.resolve(opts.image)
    cfg = config.get("config") or {}
    layers = store.layer_dirs(manifest)
    entrypoint = opts.entrypoint.split() if opts.entrypoint else (cfg.get("Entrypoint") or [])
    cmd = list(opts.cmd) if opts.cmd else list(cfg.get("Cmd") or [])
    argv = list(entrypoint) + cmd
    if not argv:
        raise RunError("no command given and the image has none")
    env = {}
    for item in cfg.get("Env") or []:
        k, _, v = item.partition("=")
        env[k] = v
    for item in opts.env or []:
        k, _, v = item.partition("=")
        env[k] = v if "=" in item else os.environ.get(k, "")
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    user_spec = opts.user if opts.user is not None else cfg.get("User")
    uid, gid = _resolve_user(user_spec, layers[-1] if layers else "/nonexistent") if user_spec else (0, 0)
    if user_spec and not str(user_spec).split(":")[0].isdigit():
        for layer in reversed(layers):
            if os.path.exists(os.path.join(layer, "etc/passwd")):
                uid, gid = _resolve_user(user_spec, layer)
                break
    env.setdefault("HOME", "/root" if uid == 0 else "/")
    volumes = []
    for v in opts.volume or []:
        parts = v.split(":")
        if len(parts) < 2 or not parts[0].startswith("/") or not parts[1].startswith("/"):
            raise RunError("invalid volume {!r} (HOST:CONTAINER[:ro], absolute paths)".format(v))
        if not os.path.exists(parts[0]):
            raise RunError("volume source {} does not exist".format(parts[0]))
        volumes.append((parts[0], parts[1], len(parts) > 2 and parts[2] == "ro"))
    limits = {}
    if opts.memory:
        from hostprep.runtime.cgroups import parse_size

        limits["memory"] = parse_size(opts.memory)
    if opts.cpus is not None:
        limits["cpus"] = opts.cpus
    if opts.pids_limit is not None:
        limits["pids"] = opts.pids_limit
    base = os.path.join(root, "containers")
    if opts.name:
        for existing in list_states(root):
            if existing.get("name") == opts.name:
                raise RunError("the container name {!r} is already in use".format(opts.name))
    cid = os.urandom(6).hex()
    cdir = os.path.join(base, cid)
    name = opts.name or "c-" + cid
    hostname = opts.hostname or cid
    env["HOSTNAME"] = hostname
    # the overlay is mounted on the container's directory itself (in PID 1's mount namespace only; the host
    # still sees state.json, upper and work there): one directory less to make and remove on every run
    spec = {"rootfs": cdir, "upper": os.path.join(cdir, "upper"),
            "work": os.path.join(cdir, "work"), "layers": layers, "volumes": volumes, "cmd": argv, "env": env,
            "hostname": hostname, "workdir": opts.workdir or cfg.get("WorkingDir") or "/", "uid": uid, "gid": gid,
            "network": opts.network, "read_only": opts.read_only, "init": opts.init, "volatile": opts.rm}
    cgroup = Cgroup(cid)
    state = {"id": cid, "name": name, "image": opts.image, "command": argv, "created": time.time(),
             "status": "created", "pid": 0, "exit_code": None, "cgroup": cgroup.paths, "rm": opts.rm,
             "hostname": hostname, "spec": {"env": env, "uid": uid, "gid": gid, "workdir": spec["workdir"]},
             "config": run_config(opts, manifest, limits)}

    def prepare():
        try:
            try:
                os.mkdir(cdir, 0o700)
            except FileNotFoundError:
                os.makedirs(base, exist_ok=True)
                os.mkdir(cdir, 0o700)
            for sub in ("upper", "work"):
                os.mkdir(os.path.join(cdir, sub), 0o755)
            cgroup.create(**limits)
        except BaseException:
            rmtree(cdir)
            raise
        trace("created")

    sys.stdout.flush()
    sys.stderr.flush()
    if getattr(opts, "detach", False):
        prepare()  # here, so that a limit the kernel refuses is reported by this command
        return _detach(cdir, spec, cgroup, state, opts)
    return _supervise(cdir, spec, cgroup, state, opts.rm, prepare=prepare)


def run_config(opts, manifest, limits):
    """The options a container was started with, as given (what `inspect` shows under "config").

    Tools that keep containers in a declared state (roles/runtime's hostprep.runtime.container) compare these
    with the declaration to decide whether a container must be made again.
    """
    return {"image_id": manifest["config"]["digest"], "cmd": list(opts.cmd or []), "entrypoint": opts.entrypoint,
            "env": list(opts.env or []), "user": opts.user, "workdir": opts.workdir, "hostname": opts.hostname,
            "memory": limits.get("memory"), "cpus": limits.get("cpus"), "pids_limit": limits.get("pids"),
            "volumes": list(opts.volume or []), "read_only": bool(opts.read_only), "network": opts.network,
            "init": bool(opts.init)}


def _supervise(cdir, spec, cgroup, state, rm, ready_fd=None, prepare=None):
    """Start the container, forward signals, wait, record the exit code, clean up.

    PID 1 is forked first and creates its namespaces while `prepare` makes the container's directories and
    cgroup here (two cores, two things at once); see _pid1 for the pipe that keeps them in step.
    """
    sync_r, sync_w = os.pipe()
    try:
        own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        linux.unshare(linux.CLONE_NEWPID)  # for the children only: the next fork is the container's PID 1
        try:
            pid = os.fork()
            if pid == 0:
                try:
                    os.close(own_pidns)
                    os.close(sync_w)
                    _pid1(spec, cgroup, sync_r)
                except BaseException as exc:  # noqa: BLE001 - reported, never falls back into the caller's code
                    os.write(2, "hostprep-runtime: {}: {}\n".format(type(exc).__name__, exc).encode())
                finally:
                    os._exit(125)
        finally:
            linux.setns(own_pidns, linux.CLONE_NEWPID)  # later forks of this process stay in its own namespace
            os.close(own_pidns)
    except BaseException:
        os.close(sync_r)
        os.close(sync_w)
        if prepare is None:  # made before: remove them
            cgroup.remove()
            rmtree(cdir)
        raise
    os.close(sync_r)
    try:
        if prepare is not None:
            prepare()
        os.write(sync_w, b"g")
        if cgroup.v == 2 and cgroup.paths:
            cgroup.add(pid)
            os.write(sync_w, b"j")
    except BaseException:
        os.close(sync_w)  # PID 1 reads end of file and leaves without running anything
        os.waitpid(pid, 0)
        cgroup.remove()
        rmtree(cdir)
        raise
    os.close(sync_w)
    trace("started")
    state.update(status="running", pid=pid, pid1=pid, started=time.time(), monitor_pid=os.getpid())
    _write_state(cdir, state)
    if ready_fd is not None:
        os.write(ready_fd, b"1")
        os.close(ready_fd)
    code = _wait_forwarding(pid)
    trace("exited")
    oom = cgroup.oom_killed() if not rm else False
    cgroup.remove()
    trace("cgroup removed")
    state.update(status="exited", exit_code=code, finished=time.time(), oom_killed=oom)
    if rm:
        rmtree(cdir)
    else:
        rmtree(os.path.join(cdir, "work"))
        _write_state(cdir, state)
    trace("cleaned")
    return code


def _detach(cdir, spec, cgroup, state, opts):
    """-d: a double-forked monitor (its own session) supervises the container; the CLI prints the id
    once the monitor has recorded the container as running (or has failed)."""
    ready_r, ready_w = os.pipe()
    first = os.fork()
    if first == 0:
        try:
            os.close(ready_r)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            log = os.open(os.path.join(cdir, "container.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os._exit(_supervise(cdir, spec, cgroup, state, opts.rm, ready_fd=ready_w) & 0xFF)
        except BaseException:
            os._exit(125)
    os.close(ready_w)
    os.waitpid(first, 0)
    os.read(ready_r, 1)  # a byte once running, or end-of-file if the monitor died first
    os.close(ready_r)
    print(state["id"])
    return 0


def _read_state(cdir):
    try:
        with open(os.path.join(cdir, "state.json"), "rb") as handle:
            return jsonio.loads(handle.read())
    except (OSError, ValueError):
        return None


def find(root, ref):
    for state in list_states(root):
        if state["id"].startswith(ref) or state.get("name") == ref:
            return state
    raise RunError("no such container: {}".format(ref))


def _pid1_of(root, state):
    if state.get("pid1"):
        return state["pid1"]
    try:  # written by earlier versions
        with open(os.path.join(containers_dir(root), state["id"], "pid1")) as handle:
            return int(handle.read())
    except (OSError, ValueError):
        raise RunError("container {} is not running".format(state["name"]))


def signal_container(root, ref, sig):
    state = find(root, ref)
    if state["status"] != "running":
        raise RunError("container {} is not running".format(state["name"]))
    os.kill(_pid1_of(root, state), sig)
    return state["id"]


def stop(root, ref, timeout=10):
    """SIGTERM to the container's PID 1, SIGKILL after `timeout` seconds; waits until it has exited."""
    state = find(root, ref)
    if state["status"] != "running":
        return state["id"]
    pid1 = _pid1_of(root, state)
    try:
        os.kill(pid1, _signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(state["pid"]):
        time.sleep(0.05)
    if _alive(state["pid"]):
        try:
            os.kill(pid1, _signal.SIGKILL)
        except ProcessLookupError:
            pass
    cdir = os.path.join(containers_dir(root), state["id"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        current = _read_state(cdir)
        if current is None or current.get("status") == "exited":
            break
        time.sleep(0.05)
    return state["id"]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/{}/stat".format(pid)) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def logs(root, ref, follow=False, out=None):
    out = out or sys.stdout
    state = find(root, ref)
    path = os.path.join(containers_dir(root), state["id"], "container.log")
    if not os.path.exists(path):
        return
    with open(path) as handle:
        while True:
            chunk = handle.read()
            if chunk:
                out.write(chunk)
                out.flush()
            if not follow or not _alive(state["pid"]):
                if follow:
                    out.write(handle.read())
                return
            time.sleep(0.1)


def exec_in(root, ref, cmd, env_extra=None, workdir=None, user=None):
    """Run a command inside a running container: its namespaces, root, cgroup and capabilities."""
    state = find(root, ref)
    if state["status"] != "running":
        raise RunError("container {} is not running".format(state["name"]))
    pid1 = _pid1_of(root, state)
    spec = state.get("spec") or {}
    pid = os.fork()
    if pid == 0:
        try:
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
                _drop_privileges({"uid": spec.get("uid", 0) if user is None else user[0],
                                  "gid": spec.get("gid", 0) if user is None else user[1]})
                os.chdir(workdir or spec.get("workdir") or "/")
                env = dict(spec.get("env") or {})
                env.update(env_extra or {})
                _execvpe(cmd, env)
            except OSError as exc:
                os.write(2, "hostprep-runtime: exec {}: {}\n".format(cmd[0], exc.strerror).encode())
                os._exit(127 if exc.errno == 2 else 126)
            except BaseException as exc:  # noqa: BLE001
                os.write(2, "hostprep-runtime: exec: {}: {}\n".format(type(exc).__name__, exc).encode())
            os._exit(125)
        os._exit(_wait_forwarding(child))
    return _wait_forwarding(pid, (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP))


def list_states(root):
    out = []
    base = containers_dir(root)
    for cid in sorted(os.listdir(base)):
        path = os.path.join(base, cid, "state.json")
        try:
            with open(path, "rb") as handle:
                state = jsonio.loads(handle.read())
        except (OSError, ValueError):
            continue
        if state.get("status") == "running" and state.get("pid") and not _alive(state["pid"]):
            state["status"] = "exited"  # its supervisor died before it could record the code
        out.append(state)
    return out


def remove(root, ref, force=False):
    for state in list_states(root):
        if state["id"].startswith(ref) or state.get("name") == ref:
            if state["status"] == "running":
                if not force:
                    raise RunError("container {} is running (use rm -f)".format(state["name"]))
                stop(root, state["id"], timeout=0)
            Cgroup(state["id"]).remove()
            rmtree(os.path.join(containers_dir(root), state["id"]))
            return state["id"]
    raise RunError("no such container: {}".format(ref))


def default_user():
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name
