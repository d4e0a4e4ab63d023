"""What keeps a container going: restart policies with Docker's semantics, the log pump of a detached container
and its health checks.

Restart policies (`--restart`), as Docker's restart manager applies them:
- `no` (the default): never; `always`: whatever the exit code; `unless-stopped`: as always, but not at boot when
  it was stopped by hand; `on-failure[:N]`: only after a non-zero exit, at most N times (no limit without N).
- Never after an explicit `stop` (or `kill` with SIGKILL/SIGTERM, `rm -f`): those leave a `stopped` mark in the
  container's directory, cleared by `start`.
- Back-off: 100 ms before the first restart, doubled before each next one up to one minute, back to 100 ms once
  the container had run for 10 s. The record says `restarting` meanwhile, with `restart_count`.

Health (`--health-cmd`, `--health-interval`, `--health-timeout`, `--health-retries`, `--health-start-period`,
`--no-healthcheck`, or the image's HEALTHCHECK): a checker process, child of the monitor, runs the command in the
container every interval and keeps `health.json` (Docker's State.Health: Status starting/healthy/unhealthy,
FailingStreak, the last five results).

Imported on the path of every `run` (lifecycle_options): only `os` and `time` at import time.
"""

import os
import time

from hostprep.runtime.marks import stopped_by_hand

POLICIES = ("no", "always", "unless-stopped", "on-failure")
HEALTH = "health.json"
NS = 10 ** 9
STOP_GRACE = 10  # seconds between SIGTERM and SIGKILL when the monitor is told to end, as `stop`'s default
HEALTH_DEFAULTS = {"Interval": 30 * NS, "Timeout": 30 * NS, "StartPeriod": 0, "Retries": 3}


def parse_restart(text):
    """`--restart` as {"name", "max"}; ValueError naming the rule."""
    name, _, count = (text or "no").partition(":")
    if name not in POLICIES:
        raise ValueError("invalid restart policy {!r}: no, always, unless-stopped or on-failure[:N]".format(text))
    if count and name != "on-failure":
        raise ValueError("invalid restart policy {!r}: only on-failure takes a maximum retry count".format(text))
    try:
        maximum = int(count) if count else 0
    except ValueError:
        maximum = -1
    if maximum < 0:
        raise ValueError("invalid restart policy {!r}: the retry count must be a whole number".format(text))
    return {"name": name, "max": maximum}


def _seconds(text, flag):
    from hostprep.runtime.logs import parse_time

    try:
        value = 0 - parse_time(text, now=0) if not text.replace(".", "").isdigit() else float(text)
    except ValueError:
        raise ValueError("invalid {} {!r}: a duration such as 30s or 1m".format(flag, text))
    if value < 0:
        raise ValueError("invalid {} {!r}: must not be negative".format(flag, text))
    return int(value * NS)


def health_config(opts, image_config):
    """The health check of a new container ({"Test", "Interval", ...} in ns), or None."""
    if getattr(opts, "no_healthcheck", False):
        return None
    check = dict(HEALTH_DEFAULTS)
    image = (image_config or {}).get("Healthcheck") or {}
    check.update({k: v for k, v in image.items() if k != "Test" and v})
    test = image.get("Test")
    cmd = getattr(opts, "health_cmd", None)
    if cmd is not None:
        test = ["CMD-SHELL", cmd] if cmd else ["NONE"]
    for flag, key in (("health_interval", "Interval"), ("health_timeout", "Timeout"),
                      ("health_start_period", "StartPeriod")):
        value = getattr(opts, flag, None)
        if value is not None:
            check[key] = _seconds(value, "--" + flag.replace("_", "-"))
    if getattr(opts, "health_retries", None) is not None:
        if opts.health_retries < 1:
            raise ValueError("--health-retries must be at least 1")
        check["Retries"] = opts.health_retries
    if not test or test[0] == "NONE":
        return None
    if test[0] not in ("CMD", "CMD-SHELL") or len(test) < 2:
        raise ValueError("invalid health check {!r}".format(test))
    check["Test"] = list(test)
    return check


def lifecycle_options(opts, image_config):
    """(what the spec gains, what the run config records) from --restart, --health-*, --log-opt."""
    from hostprep.runtime.logs import parse_opts

    restart = parse_restart(getattr(opts, "restart", None))
    if restart["name"] != "no" and getattr(opts, "rm", False):
        raise ValueError("conflicting options: --restart and --rm")
    health = health_config(opts, image_config)
    log = parse_opts(getattr(opts, "log_opt", None))
    config = {"restart": getattr(opts, "restart", None) or "no", "health_cmd": getattr(opts, "health_cmd", None),
              "log_opt": list(getattr(opts, "log_opt", None) or []), "tmpfs": list(getattr(opts, "tmpfs", None) or []),
              "publish": list(getattr(opts, "publish", None) or [])}  # as given: the role's module compares them
    return {"restart": restart, "health": health, "log": log}, config


def _told_to_end():
    """The monitor got SIGTERM (shutdown): no restart now; `system boot` applies the policy at the next boot."""
    from hostprep.runtime import process

    return process.terminated()


def should_restart(policy, code, count, stopped):
    """Docker's rule: whether a container that exited with `code` after `count` restarts is started again."""
    if stopped or policy["name"] == "no":
        return False
    if policy["name"] == "on-failure":
        return code != 0 and (not policy["max"] or count < policy["max"])
    return True


def next_delay(delay, ran_for):
    """The back-off before the next restart: 100 ms, doubled each time up to 60 s; reset after 10 s of running."""
    if ran_for >= 10 or delay <= 0:
        return 0.1
    return min(delay * 2, 60.0)


def prepare_again(spec, cgroup):
    """What an exit removed and a new start needs: the overlay's work directory and the cgroups with limits."""
    try:
        os.mkdir(spec["work"], 0o755)
    except FileExistsError:
        pass
    cgroup.create(**spec["limits"])


def monitor(spec, cgroup, state, ready_fd, run_once, exec_in, keep=False):
    """The detached monitor (its own session, stdin /dev/null): the log pump, the health checker, the container
    and its restarts. `run_once` starts and supervises the container once (container._supervise), `exec_in` runs
    a command in it (container.exec_in, for health checks). Returns the last exit code."""
    from hostprep.runtime import logs

    cdir = spec["dir"]
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    pump = logs.start_pump(cdir, spec.get("log") or logs.parse_opts(None))
    with open(os.path.join(cdir, "monitor.pid"), "w") as handle:
        handle.write(str(os.getpid()))
    checker = start_health(spec, state, exec_in) if spec.get("health") else None
    from hostprep.runtime import process

    process.stop_on_term(STOP_GRACE)  # shutdown stops the container as dockerd's does (process.py)
    try:
        return supervise(spec, cgroup, state, run_once, ready_fd=ready_fd, keep=keep)
    finally:
        if checker:
            _end(checker)
        os.close(1)
        os.close(2)
        try:
            os.waitpid(pump, 0)
        except ChildProcessError:
            pass


def supervise(spec, cgroup, state, run_once, ready_fd=None, create=False, keep=False):
    """Run the container, and again as its restart policy says; returns the last exit code. `keep`: the container
    was made before (start), so a failure to start it leaves its directory (as every restart does)."""
    from hostprep.runtime.state import write_state

    policy = spec.get("restart") or {"name": "no", "max": 0}
    cdir = spec["dir"]
    state.setdefault("restart_count", 0)
    delay = 0.0
    first = True
    while True:
        started = time.monotonic()
        code = run_once(spec, cgroup, state, create=create and first, ready_fd=ready_fd if first
                                    else None, keep=(keep or not first) and not spec["rm"])
        first = False
        if _told_to_end() or not should_restart(policy, code, state["restart_count"], stopped_by_hand(cdir)):
            return code
        delay = next_delay(delay, time.monotonic() - started)
        state.update(status="restarting", monitor_pid=os.getpid())
        write_state(cdir, state)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            if stopped_by_hand(cdir):
                state.update(status="exited")
                write_state(cdir, state)
                return code
            time.sleep(min(0.05, max(deadline - time.monotonic(), 0)))
        state["restart_count"] += 1
        try:
            prepare_again(spec, cgroup)
        except Exception as exc:  # noqa: BLE001 - reported in the log and the record
            os.write(2, "hostprep-runtime: cannot restart: {}\n".format(exc).encode())
            state.update(status="exited", error=str(exc))
            write_state(cdir, state)
            return code


# -- health --------------------------------------------------------------------------------------------------------
def start_health(spec, state, exec_in):
    pid = os.fork()
    if pid == 0:
        try:
            from hostprep.runtime import process

            process.die_with_parent()
            process.close_inherited_fds()  # the CLI of `run -d` waits until every copy of its pipe is closed
            _health_loop(spec, state, exec_in)
        finally:
            os._exit(0)
    return pid


def _end(pid):
    import signal

    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _health_loop(spec, state, exec_in):
    from hostprep.runtime import jsonio
    from hostprep.runtime.state import read_state

    check = spec["health"]
    cdir = spec["dir"]
    root = os.path.dirname(os.path.dirname(cdir))
    health = {"Status": "starting", "FailingStreak": 0, "Log": []}
    pid = None
    began = time.monotonic()
    path = os.path.join(cdir, HEALTH)
    while True:
        current = read_state(cdir) or {}
        if current.get("status") == "running" and current.get("pid") != pid:
            pid = current.get("pid")
            began = time.monotonic()
            health = {"Status": "starting", "FailingStreak": 0, "Log": []}
            _write_json(path, health, jsonio)
        time.sleep(check["Interval"] / NS if pid else 0.05)
        current = read_state(cdir) or {}
        if current.get("status") != "running" or current.get("pid") != pid:
            continue
        start = time.time()
        code, output = run_check(root, state["id"], check, exec_in)
        result = {"Start": _stamp(start), "End": _stamp(time.time()), "ExitCode": code, "Output": output}
        health["Log"] = (health["Log"] + [result])[-5:]
        if code == 0:
            health["Status"] = "healthy"
            health["FailingStreak"] = 0
        elif time.monotonic() - began >= check["StartPeriod"] / NS or health["Status"] != "starting":
            health["FailingStreak"] += 1
            if health["FailingStreak"] >= check["Retries"]:
                health["Status"] = "unhealthy"
        _write_json(path, health, jsonio)


def _stamp(t):
    from hostprep.runtime.logs import timestamp

    return timestamp(t)


def _write_json(path, data, jsonio):
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        handle.write(jsonio.dumps(data))
    os.replace(tmp, path)


def run_check(root, cid, check, exec_in):
    """(exit code, first 4 KiB of output) of the check run in the container; -1 on timeout."""
    import select

    test = check["Test"]
    argv = ["/bin/sh", "-c", test[1]] if test[0] == "CMD-SHELL" else list(test[1:])
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(out_r)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os._exit(exec_in(root, cid, argv) & 0xFF)
        except BaseException:  # noqa: BLE001
            os._exit(125)
    os.close(out_w)
    deadline = time.monotonic() + check["Timeout"] / NS
    chunks = []
    timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([out_r], [], [], left)
        if not ready:
            continue
        data = os.read(out_r, 4096)
        if not data:
            break
        if sum(len(c) for c in chunks) < 4096:
            chunks.append(data)
    os.close(out_r)
    if timed_out:
        _end(pid)
        return -1, "Health check exceeded timeout ({}s)".format(check["Timeout"] / NS)
    _, status = os.waitpid(pid, 0)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    return code, b"".join(chunks)[:4096].decode("utf-8", "replace")


def read_health(cdir):
    from hostprep.runtime import jsonio

    try:
        with open(os.path.join(cdir, HEALTH), "rb") as handle:
            return jsonio.loads(handle.read())
    except (OSError, ValueError):
        return None
