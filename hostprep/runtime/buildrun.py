"""A build's RUN step: the command in a build container made by the runtime's own start steps (spec.py's spec,
container.py's supervisor: namespaces, overlay root, seccomp, dropped capabilities, no network by default).

The container's root is the stage's layers; its overlay upper directory, kept after the command exits, is the
step's layer. Its output goes to the build's output as it comes, and the last lines are kept for the error
message of a failing command.
"""

import os
import time

from hostprep.runtime.state import rmtree


class _StageImage:
    """What spec.build reads from a store, answered for the stage being built (no image is named for it)."""

    def __init__(self, layer_dirs, config):
        self.dirs = layer_dirs
        self.config = config

    def lookup(self, ref):
        return "sha256:" + "0" * 64

    def image(self, digest):
        return {"config": {"digest": digest}, "layers": []}, {"config": self.config}

    def layer_dirs(self, manifest):
        return list(self.dirs)


def run_step(builder, stage, argv, args_env, network):
    """Run argv in a build container of the stage; returns (container directory, exit code, last lines): the
    container's upper layer is CONTAINER-DIRECTORY/upper."""
    from hostprep.runtime import container
    from hostprep.runtime import spec as specconv
    from hostprep.runtime.cgroups import Cgroup
    from hostprep.runtime.runoptions import RunOptions
    from hostprep.runtime.store import distinct_layers

    dirs = distinct_layers([builder.store.unpacked(layer["digest"]) for layer in stage.layers])
    if not dirs:  # FROM scratch: overlayfs needs one lower directory
        empty = os.path.join(builder.work, "empty")
        os.makedirs(empty, exist_ok=True)
        dirs = [empty]
    config = {"Env": list(stage.config.get("Env") or []), "User": stage.config.get("User") or "",
              "WorkingDir": stage.config.get("WorkingDir") or "/"}
    opts = RunOptions()
    opts.image = "build"
    opts.cmd = list(argv)
    opts.env = list(args_env)
    opts.network = network
    cid = os.urandom(6).hex()
    spec, state = specconv.build(opts, _StageImage(dirs, config), builder.root, cid)
    state["name"] = "build-" + cid
    state["image"] = "(build)"
    cgroup = Cgroup(cid)
    state["cgroup"] = cgroup.paths
    container._create(spec, cgroup)
    workdir = config["WorkingDir"]
    view = builder._view(stage)
    make_workdir(view, spec["upper"], workdir, config["User"])
    try:
        code, tail = _supervised(builder, container, spec, cgroup, state)
    except BaseException:  # interrupted (Ctrl-C, SIGTERM): the build container is stopped and removed
        rmtree(spec["dir"])
        raise
    return spec["dir"], code, tail


def make_workdir(view, upper, workdir, user):
    """WORKDIR's directory, made when missing as BuildKit and buildah make it: owned by the stage's USER.

    Directories the image has are made in the upper layer with the image's owner and mode (an upper directory's
    metadata is what the container sees); the missing ones are 0755 and the user's.
    """
    from hostprep.runtime.buildcopy import CopyError, _user_ids

    parts = [p for p in workdir.split("/") if p]
    if not parts or os.path.isdir(os.path.join(view, *parts)):
        return
    try:
        uid, gid = _user_ids(view, user) if user else (0, 0)
    except CopyError:
        uid, gid = 0, 0
    for i in range(1, len(parts) + 1):
        lower = os.path.join(view, *parts[:i])
        target = os.path.join(upper, *parts[:i])
        if os.path.isdir(target):
            continue
        os.mkdir(target)
        if os.path.isdir(lower) and not os.path.islink(lower):
            st = os.stat(lower)
            os.lchown(target, st.st_uid, st.st_gid)
            os.chmod(target, st.st_mode & 0o7777)
            os.utime(target, (st.st_atime, st.st_mtime))
        else:
            os.lchown(target, uid, gid)
            os.chmod(target, 0o755)


def _supervised(builder, container, spec, cgroup, state):
    """The container run by a child of this process whose output (the container's) comes through a pipe."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 125
        try:
            os.close(read_end)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(write_end, 1)
            os.dup2(write_end, 2)
            os.close(write_end)
            code = container._supervise(spec, cgroup, state, create=False)
        except BaseException as exc:  # noqa: BLE001 - reported through the pipe, never back into the build
            try:
                os.write(2, "hostprep-runtime: {}\n".format(exc).encode())
            except OSError:
                pass
        os._exit(code & 0xFF)
    os.close(write_end)
    tail, partial = [], b""
    try:
        while True:
            data = os.read(read_end, 65536)
            if not data:
                break
            builder.out.write(data.decode("utf-8", "replace"))
            builder.out.flush()
            lines = (partial + data).split(b"\n")
            partial = lines.pop()
            tail = (tail + [line.decode("utf-8", "replace") for line in lines])[-15:]
    except BaseException:
        _stop(pid, spec["dir"])
        raise
    finally:
        os.close(read_end)
    if partial:
        tail = (tail + [partial.decode("utf-8", "replace")])[-15:]
    _, status = os.waitpid(pid, 0)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    return code, tail


def _stop(supervisor, cdir):
    """Stop an interrupted build container: SIGTERM through its supervisor (which forwards it), then SIGKILL
    to its PID 1 (a shell as PID 1 ignores SIGTERM); the supervisor then removes its cgroup and returns."""
    import signal

    try:
        os.kill(supervisor, signal.SIGTERM)
    except OSError:
        pass
    deadline = time.time() + 2
    while time.time() < deadline:
        if os.waitpid(supervisor, os.WNOHANG)[0]:
            return
        time.sleep(0.05)
    from hostprep.runtime.state import read_state

    state = read_state(cdir) or {}
    if state.get("pid"):
        try:
            os.kill(state["pid"], signal.SIGKILL)
        except OSError:
            pass
    os.waitpid(supervisor, 0)


def cleanup(cdir):
    """The build container's directory (state, upper layer), once its layer is written."""
    rmtree(cdir)
