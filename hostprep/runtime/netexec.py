"""Running iproute2, iptables and nft for the network code: fork and exec without the subprocess module
(its import costs several ms on the path of every `run`), optionally inside a network namespace.
"""

import os

from hostprep.runtime import linux
from hostprep.runtime.errors import RunError

_DIRS = ("/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin")


def which(name):
    for d in _DIRS:
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    return None


def run(argv, data=None, netns=None, check=True):
    """Run argv (stdin `data`); returns (exit code, stderr text). netns: a path such as /proc/PID/ns/net to
    run it in. check: a non-zero exit raises RunError with the program's message."""
    program = which(argv[0]) if "/" not in argv[0] else argv[0]
    if program is None:
        if check:
            raise RunError("{} is needed for container networking and is not installed".format(argv[0]))
        return 127, "not found"
    in_r, in_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            if netns is not None:
                fd = os.open(netns, os.O_RDONLY)
                linux.setns(fd, linux.CLONE_NEWNET)
                os.close(fd)
            os.dup2(in_r, 0)
            os.dup2(err_w, 2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            for fd in (in_r, in_w, err_r, err_w, devnull):
                os.close(fd)
            os.execv(program, [program] + list(argv[1:]))
        except BaseException as exc:  # noqa: BLE001
            os.write(2, str(exc).encode())
        os._exit(127)
    os.close(in_r)
    os.close(err_w)
    try:
        if data:
            os.write(in_w, data.encode())
    except OSError:
        pass
    finally:
        os.close(in_w)
    chunks = []
    while True:
        chunk = os.read(err_r, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(err_r)
    _, status = os.waitpid(pid, 0)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    err = b"".join(chunks).decode("utf-8", "replace").strip()
    if code != 0 and check:
        raise RunError("{} failed: {}".format(" ".join(argv[:3]), err or "exit code {}".format(code)))
    return code, err


def write_sysctl(path, value):
    try:
        with open(path, "w") as handle:
            handle.write(value)
    except OSError:
        pass
