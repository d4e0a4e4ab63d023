"""A container's record on disk (`<root>/containers/<id>/state.json`) and what is done to it from outside:
list, find, signal, stop, logs, remove, and the clean-up of containers whose supervisor died.

A container is running while its supervisor (the CLI of a foreground `run`, the monitor of `run -d`) is
alive: PID 1 is killed by the kernel when its supervisor dies (PR_SET_PDEATHSIG), so a record that says
"running" with a dead supervisor is a leftover, and the first command that lists it cleans it up.
"""

import _signal
import errno
import os
import sys
import time

from hostprep.runtime import jsonio
from hostprep.runtime.cgroups import Cgroup
from hostprep.runtime.errors import RunError  # noqa: F401 - raised here; most modules import it from here
from hostprep.runtime.procinfo import alive, start_time  # noqa: F401 - used here and by importers


def containers_dir(root):
    path = os.path.join(root, "containers")
    os.makedirs(path, exist_ok=True)
    return path


def write_state(cdir, state):
    tmp = os.path.join(cdir, "state.json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, jsonio.dumps(state).encode())
    finally:
        os.close(fd)
    os.replace(tmp, os.path.join(cdir, "state.json"))


def read_state(cdir):
    try:
        with open(os.path.join(cdir, "state.json"), "rb") as handle:
            return jsonio.loads(handle.read())
    except (OSError, ValueError):
        return None


def rmtree(path, _tries=20):
    """Remove a directory tree without following symlinks (shutil costs ~8 ms of import on the run path).

    A directory that gains an entry while it is emptied (a container's health checker or log pump finishing a
    write as it is removed) is scanned again, a few times, before the error is raised: once the directory is gone
    such a writer's next open fails instead of bringing it back."""
    for attempt in range(_tries):
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
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.ENOTEMPTY or attempt == _tries - 1:
                raise
            time.sleep(0.01 * (attempt + 1))


def _supervised(state):
    """Is the supervisor recorded in `state` still the live process it was?"""
    monitor = state.get("monitor_pid")
    if not alive(monitor):
        return False
    recorded = state.get("monitor_start")
    return recorded is None or start_time(monitor) == recorded


def _clean_dead(cdir, state):
    """A record left "running" by a supervisor that died (SIGKILL, OOM, power loss of the CLI only): kill
    what may be left of the container, remove its cgroups and scratch directories, record it exited."""
    cgroup = Cgroup(state["id"])
    try:
        cgroup.remove()  # kills whatever is still in it first
    except OSError:
        pass
    _release_network(os.path.dirname(os.path.dirname(cdir)), state)
    state.update(status="exited", exit_code=state.get("exit_code") if state.get("exit_code") is not None else 137,
                 finished=time.time(), error="its supervisor died")
    try:
        if state.get("rm"):
            rmtree(cdir)
            return None
        rmtree(os.path.join(cdir, "work"))
        write_state(cdir, state)
    except OSError:  # not root (ps by a user): shown as exited, cleaned by the next command that can
        pass
    return state


def _release_network(root, state):
    """Its published ports, address and name on its network (network.py), if it had a bridge network."""
    if state.get("net") and not state["net"].get("released"):
        from hostprep.runtime.network import detach

        try:
            detach(root, state)
        except (OSError, RunError):  # not root (ps by a user): done by the next command that can
            pass


def list_states(root):
    """Every container's record; leftovers of dead supervisors are cleaned up on the way."""
    out = []
    base = containers_dir(root)
    for cid in sorted(os.listdir(base)):
        cdir = os.path.join(base, cid)
        state = read_state(cdir)
        if state is None:
            continue
        if state.get("status") in ("running", "restarting") and not _supervised(state):
            state = _clean_dead(cdir, state)
            if state is None:
                continue
        out.append(state)
    return out


def find(root, ref):
    """The container `ref` names: exact ID, exact name, then a unique ID prefix (refs.find_container); an empty
    or ambiguous reference is refused, never read as "the first container"."""
    from hostprep.runtime.refs import find_container

    state = find_container(list_states(root), ref)
    if state is None:
        raise RunError("no such container: {!r}".format(ref))
    return state


def pid1_of(root, state):
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
    if sig in (_signal.SIGKILL, _signal.SIGTERM):  # as Docker: no restart after a kill by hand
        _mark_stopped(root, state)
    os.kill(pid1_of(root, state), sig)
    return state["id"]


def stop(root, ref, timeout=10):
    """SIGTERM to the container's PID 1, SIGKILL after `timeout` seconds; waits until it has exited."""
    state = find(root, ref)
    _mark_stopped(root, state)  # no restart (supervisor.py); also ends the back-off of a restarting container
    if state["status"] == "restarting":
        _await_exit(os.path.join(containers_dir(root), state["id"]))
    if state["status"] != "running":
        return state["id"]
    pid1 = pid1_of(root, state)
    try:
        os.kill(pid1, _signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(state["pid"]):
        time.sleep(0.05)
    if alive(state["pid"]):
        try:
            os.kill(pid1, _signal.SIGKILL)
        except ProcessLookupError:
            pass
    _await_exit(os.path.join(containers_dir(root), state["id"]))
    return state["id"]


def _await_exit(cdir):
    _await(cdir, lambda current: current.get("status") == "exited" or not _supervised(current))


def _await(cdir, done, timeout=10):
    """Poll the record (boundedly) until it is gone or done(record) says so; the record still not done when
    the bound passed, else None."""
    deadline = time.monotonic() + timeout
    while True:
        current = read_state(cdir)
        if current is None or done(current):
            return None
        if time.monotonic() >= deadline:
            return current
        time.sleep(0.05)


def _await_supervisor_gone(cdir):
    """After its container exited, a monitor still ends its health checker and log pump, both writing in the
    container's directory: removing the directory waits (boundedly) until the supervisor itself has gone. A
    monitor still there after the bound (a pump that cannot drain, a host too slow: a CI run in an emulated VM
    took longer) is killed, and its checker and pump die with it (process.die_with_parent): rm leaves no process
    of the container behind and nothing that still writes in the directory it removes."""
    left = _await(cdir, lambda current: not _supervised(current))
    if left is not None:
        try:
            os.kill(left["monitor_pid"], _signal.SIGKILL)
        except ProcessLookupError:
            pass
        _await(cdir, lambda current: not _supervised(current))


def _mark_stopped(root, state):
    from hostprep.runtime.freezer import thaw
    from hostprep.runtime.marks import mark_stopped

    cdir = os.path.join(containers_dir(root), state["id"])
    mark_stopped(cdir)
    thaw(state["id"])  # a paused container must run again to receive the signal


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
            if not follow or not alive(state["pid"]):
                if follow:
                    out.write(handle.read())
                return
            time.sleep(0.1)


def remove(root, ref, force=False):
    from hostprep.runtime.refs import release_name

    state = find(root, ref)
    if state["status"] == "running":
        if not force:
            raise RunError("container {} is running (use rm -f)".format(state["name"]))
        stop(root, state["id"], timeout=0)
    cdir = os.path.join(containers_dir(root), state["id"])
    _await_supervisor_gone(cdir)
    Cgroup(state["id"]).remove()
    _release_network(root, state)
    rmtree(cdir)
    release_name(root, state["name"], state["id"])
    return state["id"]


def default_user():
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name
