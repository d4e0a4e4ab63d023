"""The commands of a container's life after `run`: start, restart, wait, pause/unpause (the cgroup freezer, v1
and v2), top, stats (from the container's cgroups), logs with --since/--until/--tail/-t, `system boot` (what
hostprep-runtime.service runs at boot: the containers whose restart policy says so come back) and
`generate systemd` (a unit for one container, as podman prints it).
"""

import os
import sys
import time

from hostprep.runtime import freezer
from hostprep.runtime.cgroups import Cgroup
from hostprep.runtime.marks import clear_stopped, stopped_by_hand
from hostprep.runtime.state import RunError, containers_dir, find, read_state
from hostprep.runtime.supervisor import read_health


def _cdir(root, state):
    return os.path.join(containers_dir(root), state["id"])


# -- start, restart, wait ----------------------------------------------------------------------------------------
def start(root, ref):
    """Start a container that is not running, detached, as it was made (its spec, upper layer, volumes)."""
    from hostprep.runtime import container
    from hostprep.runtime.supervisor import prepare_again

    state = find(root, ref)
    if state["status"] in ("running", "restarting"):
        return state["name"]
    spec = state.get("start_spec")
    if not spec:
        raise RunError("container {} was made by an earlier version and cannot be started again".format(
            state["name"]))
    cdir = _cdir(root, state)
    clear_stopped(cdir)
    spec["detach"] = True
    cgroup = Cgroup(state["id"])
    prepare_again(spec, cgroup)
    state.update(status="created", cgroup=cgroup.paths, exit_code=None, error=None)
    try:
        os.unlink(os.path.join(cdir, "health.json"))
    except FileNotFoundError:
        pass
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(1)
    os.dup2(devnull, 1)  # _detach prints the id; `start` prints the name given, as Docker
    os.close(devnull)
    try:
        container._detach(spec, cgroup, state, keep=True)
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    return ref


def restart(root, ref, timeout=10):
    from hostprep.runtime.state import stop

    stop(root, ref, timeout=timeout)
    return start(root, ref)


def wait(root, ref, poll=0.05):
    """Block until the container stops (or exits before a restart); its exit code."""
    state = find(root, ref)
    cdir = _cdir(root, state)
    count = state.get("restart_count", 0)
    started = state.get("started")
    if state["status"] not in ("running", "restarting", "created"):
        return state.get("exit_code")
    while True:
        current = find(root, state["id"])  # cleans a record whose monitor died
        if current["status"] == "exited":
            return current.get("exit_code")
        if current.get("restart_count", 0) != count or (current["status"] == "restarting" and
                                                       current.get("started") == started):
            return current.get("exit_code")
        if read_state(cdir) is None:
            return current.get("exit_code")
        time.sleep(poll)


# -- pause ---------------------------------------------------------------------------------------------------------
def is_paused(state):
    return freezer.is_frozen(state["id"])


def pause(root, ref):
    state = find(root, ref)
    if state["status"] != "running":
        raise RunError("container {} is not running".format(state["name"]))
    if is_paused(state):
        raise RunError("container {} is already paused".format(state["name"]))
    freezer.set_frozen(state["id"], True)
    return state["name"]


def unpause(root, ref):
    state = find(root, ref)
    if not is_paused(state):
        raise RunError("container {} is not paused".format(state["name"]))
    freezer.set_frozen(state["id"], False)
    return state["name"]


def shown_status(root, state):
    """The status for people and programs: paused, and the health, read from the cgroup and health.json."""
    out = dict(state)
    out.pop("start_spec", None)
    if state.get("status") == "running" and is_paused(state):
        out["status"] = "paused"
    health = read_health(_cdir(root, state))
    if health is not None and state.get("status") == "running":
        out["health"] = health
    return out


# -- top, stats --------------------------------------------------------------------------------------------------
def _proc_stat(pid):
    with open("/proc/{}/stat".format(pid)) as handle:
        text = handle.read()
    fields = text.rsplit(")", 1)[1].split()
    return fields


def top(root, ref, out=None):
    """Docker's `top` columns for every process in the container's cgroup."""
    import pwd

    out = out or sys.stdout
    state = find(root, ref)
    if state["status"] != "running":
        raise RunError("container {} is not running".format(state["name"]))
    ticks = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as handle:
        btime = int([line for line in handle if line.startswith("btime")][0].split()[1])
    rows = []
    for pid in sorted(Cgroup(state["id"]).pids()):
        try:
            fields = _proc_stat(pid)
            uid = os.stat("/proc/{}".format(pid)).st_uid
            with open("/proc/{}/cmdline".format(pid), "rb") as handle:
                cmd = handle.read().rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = str(uid)
        cpu = (int(fields[11]) + int(fields[12])) // ticks
        stime = time.strftime("%H:%M", time.localtime(btime + int(fields[19]) // ticks))
        rows.append((user, str(pid), fields[1], "0", stime, "?",
                     "{:02d}:{:02d}:{:02d}".format(cpu // 3600, cpu // 60 % 60, cpu % 60), cmd))
    out.write("{:<10} {:<8} {:<8} {:<3} {:<6} {:<6} {:<9} {}\n".format(
        "UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"))
    for row in rows:
        out.write("{:<10} {:<8} {:<8} {:<3} {:<6} {:<6} {:<9} {}\n".format(*row))


def _read_int(path, default=None):
    try:
        with open(path) as handle:
            text = handle.read().strip()
        return int(text) if text != "max" else None
    except (OSError, ValueError):
        return default


def usage(state):
    """{cpu_ns, mem, mem_limit, pids} of a container from its cgroups."""
    cgroup = Cgroup(state["id"])
    if cgroup.v == 2:
        path = cgroup.paths["unified"]
        cpu = 0
        try:
            with open(os.path.join(path, "cpu.stat")) as handle:
                for line in handle:
                    if line.startswith("usage_usec"):
                        cpu = int(line.split()[1]) * 1000
        except OSError:
            pass
        mem = _read_int(os.path.join(path, "memory.current"), 0)
        limit = _read_int(os.path.join(path, "memory.max"))
        pids = _read_int(os.path.join(path, "pids.current"), 0)
    else:
        cpu_path = cgroup.paths.get("cpu", "")
        cpu = _read_int(os.path.join(cpu_path, "cpuacct.usage"), None)
        if cpu is None:
            cpu = _read_int(os.path.join(cgroup.paths.get("cpu", "").replace("/cpu/", "/cpuacct/"),
                                         "cpuacct.usage"), 0)
        mem_path = cgroup.paths.get("memory", "")
        mem = _read_int(os.path.join(mem_path, "memory.usage_in_bytes"), 0)
        limit = _read_int(os.path.join(mem_path, "memory.limit_in_bytes"))
        if limit is not None and limit >= 1 << 62:
            limit = None
        pids = _read_int(os.path.join(cgroup.paths.get("pids", ""), "pids.current"), 0)
    if limit is None:
        limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cpu_ns": cpu, "mem": mem, "mem_limit": limit, "pids": pids}


def stats(root, refs, fmt="table", out=None, interval=0.5):
    """One sample per container (`stats --no-stream`): CPU % over `interval`, memory, pids."""
    out = out or sys.stdout
    states = [find(root, r) for r in refs] if refs else [s for s in _running(root)]
    first = {s["id"]: (time.monotonic(), usage(s)) for s in states}
    time.sleep(interval)
    rows = []
    for s in states:
        t0, u0 = first[s["id"]]
        u1 = usage(s)
        cpu = 100.0 * (u1["cpu_ns"] - u0["cpu_ns"]) / ((time.monotonic() - t0) * 1e9)
        rows.append({"id": s["id"], "name": s["name"], "cpu_percent": round(cpu, 2), "mem_usage": u1["mem"],
                     "mem_limit": u1["mem_limit"], "mem_percent": round(100.0 * u1["mem"] / u1["mem_limit"], 2),
                     "pids": u1["pids"]})
    if fmt == "json":
        import json

        out.write(json.dumps(rows, sort_keys=True) + "\n")
        return
    out.write("{:<14} {:<20} {:<8} {:<22} {:<8} {}\n".format("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT",
                                                             "MEM %", "PIDS"))
    for r in rows:
        out.write("{:<14} {:<20} {:<8} {:<22} {:<8} {}\n".format(
            r["id"][:12], r["name"], "{:.2f}%".format(r["cpu_percent"]),
            "{} / {}".format(_binary(r["mem_usage"]), _binary(r["mem_limit"])), "{:.2f}%".format(r["mem_percent"]),
            r["pids"]))


def _binary(size):
    """Docker's stats sizes: binary units (go-units BytesSize)."""
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    value = float(size)
    i = 0
    while value >= 1024 and i < len(units) - 1:
        value /= 1024
        i += 1
    return "{:.4g}{}".format(value, units[i])


def _running(root):
    from hostprep.runtime.state import list_states

    return [s for s in list_states(root) if s["status"] == "running"]


# -- logs ------------------------------------------------------------------------------------------------------
def show_logs(root, ref, follow=False, since=None, until=None, tail=None, timestamps=False):
    from hostprep.runtime import logs

    state = find(root, ref)
    cdir = _cdir(root, state)
    since_t = logs.parse_time(since) if since else None
    until_t = logs.parse_time(until) if until else None
    if tail in (None, "all"):
        count = None
    else:
        try:
            count = int(tail)
        except ValueError:
            raise RunError("invalid --tail {!r}: a number or all".format(tail))
        if count < 0:
            count = None

    def running():
        current = read_state(cdir)
        return bool(current) and current.get("status") in ("running", "restarting") and _monitor_alive(current)

    logs.show(cdir, since=since_t, until=until_t, tail=count, timestamps=timestamps, follow=follow, alive=running)


def _monitor_alive(state):
    from hostprep.runtime.state import _supervised

    return _supervised(state)


# -- boot, systemd ------------------------------------------------------------------------------------------------
def boot(root, out=None):
    """Start every container whose restart policy brings it back after a reboot (always; unless-stopped unless it
    was stopped by hand; on-failure when it did not end with 0 and has retries left). Returns how many failed."""
    from hostprep.runtime.state import list_states
    from hostprep.runtime.supervisor import parse_restart, should_restart

    out = out or sys.stdout
    failed = 0
    for state in list_states(root):
        if state["status"] in ("running", "restarting") or not state.get("start_spec"):
            continue
        policy = parse_restart((state.get("config") or {}).get("restart"))
        code = state.get("exit_code")
        stopped = stopped_by_hand(_cdir(root, state))
        if policy["name"] == "no" or (policy["name"] == "unless-stopped" and stopped):
            continue
        if policy["name"] == "on-failure" and not should_restart(policy, code if code is not None else 255,
                                                                  state.get("restart_count", 0), stopped):
            continue
        if policy["name"] == "always" and stopped:
            clear_stopped(_cdir(root, state))  # Docker: a daemon restart brings back even a stopped `always`
        try:
            start(root, state["id"])
            out.write("started {}\n".format(state["name"]))
        except Exception as exc:  # noqa: BLE001 - one container that fails does not keep the others down
            failed += 1
            sys.stderr.write("hostprep-runtime: boot: {}: {}\n".format(state["name"], exc))
    return failed


UNIT = """# container-{name}.service
# autogenerated by hostprep-runtime generate systemd
# {stamp}

[Unit]
Description=hostprep-runtime container {name}
Documentation=man:podman-generate-systemd(1)
Wants=network-online.target
After=network-online.target local-fs.target
RequiresMountsFor={root}

[Service]
Environment=HOSTPREP_RUNTIME_ROOT={root}
Restart={restart}
TimeoutStopSec={stop_sec}
ExecStart={exe} start {name}
ExecStop={exe} stop -t {timeout} {name}
ExecStopPost={exe} stop -t {timeout} {name}
PIDFile={pidfile}
Type=forking

[Install]
WantedBy=default.target
"""


def generate_systemd(root, ref, timeout=10, restart_policy="on-failure", exe=None):
    """A unit that starts and stops an existing container (podman's `generate systemd` without --new)."""
    state = find(root, ref)
    if exe is None:
        arg0 = sys.argv[0] if sys.argv else ""
        exe = os.path.realpath(arg0) if os.path.basename(arg0) == "hostprep-runtime" else \
            "/usr/local/bin/hostprep-runtime"
    return UNIT.format(name=state["name"], stamp=time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime()),
                       root=root, restart=restart_policy, stop_sec=timeout + 60, exe=exe, timeout=timeout,
                       pidfile=os.path.join(_cdir(root, state), "monitor.pid"))

