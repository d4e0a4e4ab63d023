"""A container's life after `run`, as Docker has it: restart policies (back-off, a retry limit, none after an
explicit stop), start/restart/wait, pause/unpause through the freezer, top and stats from the cgroups, logs with
--tail/--since/-t and size-capped rotation, health checks in ps and inspect, `system boot` after the supervisors
died (what hostprep-runtime.service does after a reboot), and `generate systemd`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from hostprep.runtime.procinfo import alive


def state(rt, name: str) -> dict:
    res = rt("inspect", name)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def until(check, timeout: float = 60.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def test_on_failure_retries_then_stops_and_logs(rt) -> None:
    res = rt("run", "-d", "--name", "lc-fail", "--restart", "on-failure:2", "bb", "sh", "-c", "echo try; exit 3")
    assert res.returncode == 0, res.stderr
    until(lambda: state(rt, "lc-fail")["status"] == "exited" and state(rt, "lc-fail")["restart_count"] == 2,
          what="two restarts")
    res = rt("wait", "lc-fail")
    assert res.stdout.strip() == "3"
    assert rt("logs", "lc-fail").stdout == "try\n" * 3
    tail = rt("logs", "--tail", "1", "-t", "lc-fail").stdout
    stamp, text = tail.split(" ", 1)
    assert text == "try\n" and stamp.endswith("Z") and len(stamp) == 30, tail
    assert rt("logs", "--since", "1h", "lc-fail").stdout == "try\n" * 3
    assert rt("logs", "--since", str(time.time() + 60), "lc-fail").stdout == ""
    # on-failure does not restart a clean exit
    rt("run", "-d", "--name", "lc-ok", "--restart", "on-failure", "bb", "true")
    until(lambda: state(rt, "lc-ok")["status"] == "exited", what="exit")
    time.sleep(0.4)
    assert state(rt, "lc-ok").get("restart_count") == 0
    assert rt("run", "--rm", "--restart", "always", "bb", "true").returncode == 125
    assert rt("run", "--restart", "sometimes", "bb", "true").returncode == 125
    assert rt("rm", "lc-fail", "lc-ok").returncode == 0


def test_always_restarts_until_stopped_then_start_restart_wait(rt) -> None:
    rt("run", "-d", "--name", "lc-always", "--restart", "always", "bb", "sh", "-c", "sleep 0.2; exit 1")
    until(lambda: state(rt, "lc-always").get("restart_count", 0) >= 2, what="restarts of an always container")
    assert rt("stop", "-t", "1", "lc-always").returncode == 0
    s = state(rt, "lc-always")
    assert s["status"] == "exited"
    count = s["restart_count"]
    time.sleep(0.5)
    assert state(rt, "lc-always")["restart_count"] == count and state(rt, "lc-always")["status"] == "exited"
    # start brings it back (and its policy with it); kill -s KILL by hand is an explicit stop too
    rt("run", "-d", "--name", "lc-srv", "--restart", "always", "bb", "sleep", "600")
    pid = state(rt, "lc-srv")["pid"]
    assert rt("restart", "-t", "1", "lc-srv").stdout.strip() == "lc-srv"
    s = state(rt, "lc-srv")
    assert s["status"] == "running" and s["pid"] != pid
    res = rt("kill", "lc-srv")
    assert res.returncode == 0
    assert rt("wait", "lc-srv").stdout.strip() == "137"
    time.sleep(0.4)
    assert state(rt, "lc-srv")["status"] == "exited"
    # a process of the container killed from outside is no explicit stop: the policy restarts it
    assert rt("start", "lc-srv").stdout.strip() == "lc-srv"
    pid = state(rt, "lc-srv")["pid"]
    os.kill(pid, signal.SIGKILL)
    until(lambda: state(rt, "lc-srv")["status"] == "running" and state(rt, "lc-srv")["pid"] != pid,
          what="restart after an outside kill")
    assert rt("rm", "-f", "lc-always", "lc-srv").returncode == 0


def test_pause_top_stats(rt) -> None:
    rt("run", "-d", "--name", "lc-pause", "-m", "64m", "bb", "sh", "-c",
       "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done")
    read = ["exec", "lc-pause", "cat", "/tmp/n"]
    until(lambda: rt(*read).stdout.strip(), what="counter")
    assert rt("pause", "lc-pause").returncode == 0
    assert state(rt, "lc-pause")["status"] == "paused"
    assert "paused" in rt("ps").stdout
    top = rt("top", "lc-pause").stdout.splitlines()
    assert top[0].split()[:3] == ["UID", "PID", "PPID"] and any("sh -c" in line for line in top[1:]), top
    stats = json.loads(rt("stats", "--no-stream", "--format", "json", "lc-pause").stdout)[0]
    assert stats["name"] == "lc-pause" and stats["mem_limit"] == 64 << 20 and stats["pids"] >= 1, stats
    assert stats["cpu_percent"] == 0.0  # frozen
    # nothing moves while paused (checked from the host: exec would be frozen too)
    upper = Path(rt.state) / "containers" / state(rt, "lc-pause")["id"] / "upper" / "tmp" / "n"
    first = upper.read_text()
    time.sleep(0.3)
    assert upper.read_text() == first
    assert rt("pause", "lc-pause").returncode == 125
    assert rt("unpause", "lc-pause").returncode == 0
    until(lambda: upper.read_text() != first, what="the counter after unpause")
    assert rt("pause", "lc-pause").returncode == 0
    assert rt("stop", "-t", "1", "lc-pause").returncode == 0  # a paused container stops too
    assert state(rt, "lc-pause")["status"] == "exited"
    assert rt("rm", "lc-pause").returncode == 0


def test_log_rotation_is_size_capped(rt) -> None:
    rt("run", "-d", "--name", "lc-logs", "--log-opt", "max-size=2k", "--log-opt", "max-file=2", "bb", "sh", "-c",
       "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done; echo err >&2")
    assert rt("wait", "lc-logs").stdout.strip() == "0"
    cdir = Path(rt.state) / "containers" / state(rt, "lc-logs")["id"]
    files = sorted(p.name for p in cdir.glob("container.log*"))
    assert files == ["container.log", "container.log.1"], files
    assert all((cdir / f).stat().st_size <= 2048 for f in files)
    res = rt("logs", "lc-logs")
    lines = res.stdout.split()
    assert lines[-1] == "line-199" and "line-0" not in lines and res.stderr == "err\n", res
    assert rt("run", "--log-opt", "max-file=0", "bb", "true").returncode == 125
    assert rt("rm", "lc-logs").returncode == 0


def test_health_check_status_in_ps_and_inspect(rt) -> None:
    rt("run", "-d", "--name", "lc-health", "--health-cmd", "test -f /tmp/ok", "--health-interval", "0.2s",
       "--health-retries", "2", "bb", "sleep", "600")
    until(lambda: (state(rt, "lc-health").get("health") or {}).get("Status") == "unhealthy", what="unhealthy")
    h = state(rt, "lc-health")["health"]
    assert h["FailingStreak"] >= 2 and h["Log"][-1]["ExitCode"] == 1, h
    assert "(unhealthy)" in rt("ps").stdout
    assert rt("exec", "lc-health", "touch", "/tmp/ok").returncode == 0
    until(lambda: state(rt, "lc-health")["health"]["Status"] == "healthy", what="healthy")
    assert "(healthy)" in rt("ps").stdout
    assert rt("rm", "-f", "lc-health").returncode == 0


def test_image_healthcheck_is_used_unless_disabled(rt) -> None:
    ctx = Path(rt.base) / "hcctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text("FROM bb\nHEALTHCHECK --interval=200ms --retries=1 CMD test -f /tmp/ok\n")
    assert rt("build", "-t", "hcimg", str(ctx)).returncode == 0
    rt("run", "-d", "--name", "lc-hc", "hcimg", "sh", "-c", "touch /tmp/ok; sleep 600")
    until(lambda: (state(rt, "lc-hc").get("health") or {}).get("Status") == "healthy", what="healthy")
    rt("run", "-d", "--name", "lc-nohc", "--no-healthcheck", "hcimg", "sleep", "600")
    time.sleep(0.5)
    assert "health" not in state(rt, "lc-nohc")
    assert rt("rm", "-f", "lc-hc", "lc-nohc").returncode == 0
    assert rt("rmi", "hcimg").returncode == 0


def test_rm_f_waits_for_the_monitor_whose_checker_and_log_pump_still_write(rt) -> None:
    """`rm -f` right after a health check result: the container has exited when `stop` returns, but its monitor
    still ends the health checker (writing health.json) and the log pump (writing container.log). Removing the
    directory under them failed with "Directory not empty" (a CI run, cgroup v2); now rm waits for the monitor
    and every try removes the container, its directory and its name."""
    for i in range(4):
        name = f"lc-rmrace{i}"
        assert rt("run", "-d", "--name", name, "--health-cmd", "echo checked; true", "--health-interval", "0.05s",
                  "bb", "sh", "-c", "while :; do echo busy; done").returncode == 0
        until(lambda name=name: (state(rt, name).get("health") or {}).get("Status") == "healthy", what="healthy")
        cid, monitor = state(rt, name)["id"], state(rt, name)["monitor_pid"]
        res = rt("rm", "-f", name)
        assert res.returncode == 0, res.stderr
        assert not alive(monitor), "rm returned while the monitor still ran"
        assert not (Path(rt.state) / "containers" / cid).exists()
        assert rt("inspect", name).returncode != 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def test_rm_f_ends_a_monitor_whose_log_pump_cannot_drain(rt) -> None:
    """The monitor waits for its log pump to drain; a pump that cannot (here: stopped, as a pump blocked on a
    full or hung disk would be) kept the monitor, and rm returned after its 10 s bound leaving both running
    (seen in CI on a slow emulated VM). rm now ends the monitor after the bound, the pump dies with it, and the
    container's directory and name go."""
    name = "lc-stuckpump"
    assert rt("run", "-d", "--name", name, "bb", "sh", "-c", "while :; do echo busy; done").returncode == 0
    until(lambda: state(rt, name)["status"] == "running", what="running")
    cid, monitor = state(rt, name)["id"], state(rt, name)["monitor_pid"]
    exe = os.readlink(f"/proc/{monitor}/exe")
    pumps = [p for p in _children(monitor) if os.readlink(f"/proc/{p}/exe") == exe]  # the container runs busybox
    assert len(pumps) == 1, pumps
    os.kill(pumps[0], signal.SIGSTOP)
    try:
        res = rt("rm", "-f", name)
        assert res.returncode == 0, res.stderr
        assert not alive(monitor), "rm returned while the monitor still ran"
        until(lambda: not alive(pumps[0]), timeout=5, what="the pump to die with its monitor")
        assert not (Path(rt.state) / "containers" / cid).exists()
        assert rt("inspect", name).returncode != 0
    finally:
        if alive(pumps[0]):
            os.kill(pumps[0], signal.SIGKILL)


def test_rm_f_removes_what_a_container_planted_and_nothing_outside_it(rt, tmp_path: Path) -> None:
    """An attacker's container fills its own tree with ways out while `rm -f` (which now waits for the monitor,
    and whose rmtree scans again) removes it: symlinks to / and to a host canary's directory, a FIFO, a deep
    tree and a file it keeps rewriting. rm removes the container's directory; the canary and / are untouched."""
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "keep").write_text("host file\n")
    script = (f"ln -s / /to-root; ln -s {canary} /to-canary; mkfifo /fifo; mkdir -p /d/e/f/g; "
              "while :; do echo x > /d/e/f/g/busy; ln -sf /to-canary/keep /d/link; done")
    assert rt("run", "-d", "--name", "lc-plant", "--health-cmd", "true", "--health-interval", "0.05s",
              "bb", "sh", "-c", script).returncode == 0
    until(lambda: (state(rt, "lc-plant").get("health") or {}).get("Status") == "healthy", what="healthy")
    cid = state(rt, "lc-plant")["id"]
    res = rt("rm", "-f", "lc-plant")
    assert res.returncode == 0, res.stderr
    assert not (Path(rt.state) / "containers" / cid).exists()
    assert (canary / "keep").read_text() == "host file\n" and Path("/bin/sh").exists()


def _run_d_with_monitor(rt, body: str) -> subprocess.CompletedProcess:
    """`run -d` with the monitor replaced by `body` (a failure injected where no real input reaches: the monitor
    failing or dying before the container started)."""
    code = ("import sys, os\nimport hostprep.runtime.supervisor as s\n"
            f"def monitor(*a, **k):\n    {body}\n"
            "s.monitor = monitor\nfrom hostprep.runtime.cli import main\n"
            "sys.exit(main(['run', '-d', 'bb', 'true']))\n")
    return subprocess.run([rt.python, "-c", code], capture_output=True, text=True, env=rt.env, timeout=60)


def _cgroup_ids() -> set[str]:
    """The ids of every container cgroup of hostprep-runtime on this machine (any hierarchy)."""
    from hostprep.runtime.cgroups import Cgroup

    found = set()
    for path in Cgroup("x").paths.values():
        parent = Path(path).parent
        if parent.is_dir():
            found.update(p.name for p in parent.iterdir() if p.is_dir())
    return found


def test_run_d_fails_when_the_monitor_fails_or_dies_before_the_container_starts(rt) -> None:
    """Before, `run -d` printed an id and exited 0 whenever the monitor ended without a word; then it failed
    but left the container's directory and cgroups (made before the monitor started) behind, unseen by ps."""
    containers = Path(rt.state) / "containers"
    containers.mkdir(exist_ok=True)  # as the first run makes it (when this test runs alone)
    before_dirs, before_cgroups = set(os.listdir(containers)), _cgroup_ids()
    res = _run_d_with_monitor(rt, "raise OSError('cannot set up the log pump')")
    assert res.returncode == 125 and res.stdout == "", res
    assert "cannot set up the log pump" in res.stderr, res.stderr
    res = _run_d_with_monitor(rt, "os._exit(9)")
    assert res.returncode == 125 and res.stdout == "", res
    assert "monitor ended before the container started" in res.stderr, res.stderr
    assert set(os.listdir(containers)) == before_dirs
    assert _cgroup_ids() <= before_cgroups, "a failed run -d left cgroups"


def test_a_monitor_told_to_end_stops_its_container_after_the_grace_period(rt) -> None:
    """SIGTERM to a detached container's monitor is what systemd sends when it stops the unit or session the
    monitor runs in at shutdown: PID 1 (a `sleep`, which as a namespace's init ignores SIGTERM) gets SIGKILL
    after the 10 s grace period, as dockerd stops its containers; the monitor neither restarts an `always`
    container nor marks it stopped by hand, so `system boot` brings it back. (Before, the monitor waited for
    ever and every reboot of a host running a container took systemd's 90 s stop timeout.)"""
    assert rt("run", "-d", "--name", "lc-term", "--restart", "always", "bb", "sleep", "600").returncode == 0
    until(lambda: state(rt, "lc-term")["status"] == "running", what="lc-term running")
    monitor = state(rt, "lc-term")["monitor_pid"]
    began = time.monotonic()
    os.kill(monitor, signal.SIGTERM)
    until(lambda: state(rt, "lc-term")["status"] == "exited", timeout=90, what="lc-term stopped")
    took = time.monotonic() - began
    assert 9.0 <= took < 60, f"stopped after {took:.1f} s, not after the 10 s grace period"
    until(lambda: not os.path.exists(f"/proc/{monitor}"), timeout=30, what="the monitor to end")
    time.sleep(0.5)
    s = state(rt, "lc-term")
    assert s["status"] == "exited" and s["exit_code"] == 137 and s.get("restart_count", 0) == 0, s
    res = rt("system", "boot")
    assert res.returncode == 0 and "lc-term" in res.stdout.split(), (res.stdout, res.stderr)
    assert state(rt, "lc-term")["status"] == "running"
    assert rt("rm", "-f", "lc-term").returncode == 0


def test_from_inside_a_container_its_monitor_cannot_be_told_to_end(rt) -> None:
    """An attacker in the container tries to reach the monitor that now stops containers on SIGTERM: signals
    to every process it can name (-1, its own PID 1, every pid in its /proc) reach nothing outside its PID
    namespace, the monitor's pid is not among them, and the container keeps running, supervised."""
    assert rt("run", "-d", "--name", "lc-inside", "--restart", "always", "bb", "sleep", "600").returncode == 0
    until(lambda: state(rt, "lc-inside")["status"] == "running", what="lc-inside running")
    before = state(rt, "lc-inside")
    monitor = before["monitor_pid"]
    seen = rt("exec", "lc-inside", "sh", "-c", "ls /proc | grep -E '^[0-9]+$'; kill -TERM -1; kill -TERM 1; "
              f"kill -TERM {monitor}; for p in /proc/[0-9]*; do kill -TERM ${{p#/proc/}}; done; true")
    assert str(monitor) not in seen.stdout.split(), seen.stdout
    time.sleep(1.5)
    after = state(rt, "lc-inside")
    assert os.path.exists(f"/proc/{monitor}") and after["monitor_pid"] == monitor, after
    assert after["status"] == "running" and after["pid"] == before["pid"], after
    assert rt("rm", "-f", "lc-inside").returncode == 0


def test_boot_brings_back_what_the_policy_says(rt) -> None:
    """Supervisors killed as a reboot kills them: `system boot` starts always and unless-stopped containers
    again (not one stopped by hand, nor a `no` one), with their data."""
    for name, policy in (("lc-b-always", "always"), ("lc-b-unless", "unless-stopped"), ("lc-b-stopped",
                                                                                         "unless-stopped"),
                         ("lc-b-no", "no")):
        assert rt("run", "-d", "--name", name, "--restart", policy, "-v", name + "-vol:/data", "bb", "sh", "-c",
                  "echo boot >> /data/boots; sleep 600").returncode == 0
    assert rt("stop", "-t", "0", "lc-b-stopped").returncode == 0
    for name in ("lc-b-always", "lc-b-unless", "lc-b-no"):
        until(lambda: state(rt, name)["status"] == "running", what=name)  # noqa: B023 - called at once
        os.kill(state(rt, name)["monitor_pid"], signal.SIGKILL)  # the container dies with it (PDEATHSIG)
    for name in ("lc-b-always", "lc-b-unless", "lc-b-no"):
        until(lambda: state(rt, name)["status"] == "exited", what=name + " gone")  # noqa: B023
    res = rt("system", "boot")
    assert res.returncode == 0, res.stderr
    assert sorted(res.stdout.split()) == ["lc-b-always", "lc-b-unless", "started", "started"], res.stdout
    for name, status in (("lc-b-always", "running"), ("lc-b-unless", "running"), ("lc-b-stopped", "exited"),
                         ("lc-b-no", "exited")):
        assert state(rt, name)["status"] == status, name
    assert rt("exec", "lc-b-always", "cat", "/data/boots").stdout == "boot\nboot\n"
    unit = rt("generate", "systemd", "lc-b-always").stdout
    assert "ExecStart=" in unit and " start lc-b-always" in unit and "Type=forking" in unit, unit
    assert rt("rm", "-f", "-v", "lc-b-always", "lc-b-unless", "lc-b-stopped", "lc-b-no").returncode == 0
    for name in ("lc-b-always", "lc-b-unless", "lc-b-stopped", "lc-b-no"):
        assert rt("volume", "rm", name + "-vol").returncode == 0
