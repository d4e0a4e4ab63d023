"""Per-container cgroups with memory, cpu and pids limits, on cgroup v1 or v2 (detected).

Joining: the container's PID 1 moves itself, before it execs the command. On v1 it writes "0" to each
hierarchy's `tasks` file: the kernel migrates the calling thread only and, the caller being a single-threaded
process moving itself, skips the global cgroup_threadgroup_rwsem whose write side waits for an RCU grace
period (~8-12 ms here for a `cgroup.procs` write). On v2 a domain cgroup only takes whole processes, so
`cgroup.procs` it is.
"""

import os
import time

from hostprep.runtime.linux import trace

PARENT = "hostprep-runtime"
# where the cgroup hierarchy (v2) or hierarchies (v1, one directory per controller) are mounted; another place
# for a machine that mounts them elsewhere (or to run on the controller-less v2 hierarchy of a hybrid machine)
ROOT = os.environ.get("HOSTPREP_RUNTIME_CGROUP_ROOT") or "/sys/fs/cgroup"


# v1 devices cgroup: Docker's defaults (moby oci/devices, runc's AllowedDevices): mknod of any node, and
# read/write of the standard ones only; everything else refused at open
DEVICE_RULES = ("c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
                "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm")


class LimitError(Exception):
    """A limit the kernel cannot apply here."""


def version():
    """2 when the unified hierarchy holds the controllers, else 1 (v1 or hybrid)."""
    if os.path.exists(os.path.join(ROOT, "cgroup.controllers")):
        return 2
    return 1


def existing(root="/sys/fs/cgroup"):
    """Every per-container cgroup directory of hostprep-runtime under `root` (v1 hierarchies and v2)."""
    parents = [os.path.join(root, c, PARENT) for c in os.listdir(root)] + [os.path.join(root, PARENT)]
    found = set()
    for parent in parents:
        if os.path.isdir(parent):
            found.update(e.path for e in os.scandir(parent) if e.is_dir())
    return found


def parse_size(text):
    text = str(text).strip().lower()
    units = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    if text and text[-1] == "b" and len(text) > 1 and text[-2] in units:
        text = text[:-1]
    if text and text[-1] in units:
        number, unit = text[:-1], units[text[-1]]
    else:
        number, unit = text, 1
    try:
        value = int(float(number) * unit)
    except ValueError:
        raise LimitError("invalid size {!r} (use e.g. 64m, 1g)".format(text))
    if value <= 0:
        raise LimitError("size must be positive: {!r}".format(text))
    return value


class Cgroup:
    """The container's cgroup(s); limits are written at creation, everything removed by `remove`."""

    def __init__(self, cid):
        self.cid = cid
        self.v = version()
        if self.v == 2:
            self.paths = {"unified": os.path.join(ROOT, PARENT, cid)}
        else:
            self.paths = {}
            for ctrl in ("memory", "cpu", "pids", "devices", "freezer"):  # freezer: pause (lifecycle.py)
                base = os.path.join(ROOT, ctrl)
                if os.path.isdir(base):
                    self.paths[ctrl] = os.path.join(base, PARENT, cid)

    def create(self, memory=None, cpus=None, pids=None):
        try:
            for ctrl, path in list(self.paths.items()):
                try:
                    try:
                        os.mkdir(path)
                    except FileNotFoundError:  # the first container: the parent is missing
                        os.makedirs(path, exist_ok=True)
                except FileExistsError:
                    pass
                except OSError:
                    if ctrl not in ("devices", "freezer"):  # optional: without them, no device rules or pause
                        raise
                    del self.paths[ctrl]  # see _limit_devices
            if self.v == 2:
                _enable_controllers(os.path.dirname(self.paths["unified"]))
            if "devices" in self.paths:
                self._limit_devices()
            if memory is not None:
                self._write("memory", "memory.max" if self.v == 2 else "memory.limit_in_bytes", str(memory))
                if self.v == 2:
                    self._write("memory", "memory.swap.max", "0", optional=True)
                else:
                    self._write("memory", "memory.memsw.limit_in_bytes", str(memory), optional=True)
            if cpus is not None:
                quota = int(float(cpus) * 100000)
                if quota <= 0:
                    raise LimitError("--cpus must be positive")
                if self.v == 2:
                    self._write("cpu", "cpu.max", "{} 100000".format(quota))
                else:
                    self._write("cpu", "cpu.cfs_period_us", "100000")
                    self._write("cpu", "cpu.cfs_quota_us", str(quota))
            if pids is not None:
                self._write("pids", "pids.max", str(int(pids)))
        except BaseException:
            self.remove()
            raise

    def _limit_devices(self):
        """Nothing but the standard nodes, before any process joins (the v1 devices controller).

        A second line of defence: `nodev` on every mount the container can write (rootfs.py) is the first, and
        the only one on cgroup v2. Where the hierarchy refuses the rules (a delegated, read-only or nested
        one), the container is not put in it rather than in a cgroup that allows every device.
        """
        path = self.paths["devices"]
        try:
            _write(os.path.join(path, "devices.deny"), "a")
            for rule in DEVICE_RULES:
                _write(os.path.join(path, "devices.allow"), rule)
        except OSError:
            trace("devices cgroup refused its rules")
            del self.paths["devices"]
            try:
                os.rmdir(path)
            except OSError:
                pass

    def _write(self, ctrl, knob, value, optional=False):
        path = self.paths.get("unified" if self.v == 2 else ctrl)
        if path is None:
            if optional:
                return
            raise LimitError("the {} controller is not available here".format(ctrl))
        try:
            _write(os.path.join(path, knob), value)
        except OSError as exc:
            if optional:
                return
            raise LimitError("cannot set {} = {}: {}".format(knob, value, exc.strerror))

    def add(self, pid):
        for path in self.paths.values():
            _write(os.path.join(path, "cgroup.procs"), str(pid))

    def join_self(self):
        """Move the calling process, which must be single-threaded, into the container's cgroup(s)."""
        knob = "cgroup.procs" if self.v == 2 else "tasks"
        for path in self.paths.values():
            _write(os.path.join(path, knob), "0")

    def pids(self):
        out = set()
        for path in self.paths.values():
            try:
                with open(os.path.join(path, "cgroup.procs")) as handle:
                    out.update(int(x) for x in handle.read().split())
            except OSError:
                pass
        return out

    def oom_killed(self):
        path = self.paths.get("unified" if self.v == 2 else "memory")
        if not path:
            return False
        try:
            with open(os.path.join(path, "memory.events" if self.v == 2 else "memory.oom_control")) as handle:
                text = handle.read()
        except OSError:
            return False
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key in ("oom_kill",) and int(value or 0) > 0:
                return True
        return False

    def remove(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        for path in self.paths.values():
            while True:
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    trace("cgroup busy " + path)
                    if time.monotonic() > deadline:
                        raise
                    for pid in self.pids():
                        try:
                            os.kill(pid, 9)
                        except ProcessLookupError:
                            pass
                    time.sleep(0.02)


def _enable_controllers(parent, controllers=("memory", "cpu", "pids")):
    """v2: a controller's files appear in a cgroup only when every ancestor's subtree_control enables it, and
    systemd enables only what its units use (often memory and pids, not cpu). So each controller is enabled on
    its own (one write of several fails whole when any is unavailable), from the hierarchy's root down to the
    containers' parent; one that cannot be enabled shows later as the limit that cannot be set."""
    chain = []
    path = os.path.normpath(parent)
    root = os.path.normpath(ROOT)
    while path.startswith(root):
        chain.append(path)
        if path == root:
            break
        path = os.path.dirname(path)
    for directory in reversed(chain):
        for ctrl in controllers:
            try:
                _write(os.path.join(directory, "cgroup.subtree_control"), "+" + ctrl)
            except OSError:
                pass


def _write(path, value):
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)
