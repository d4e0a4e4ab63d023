"""The fast `run` path: its argument reader agrees with argparse, the zipapp starts without site or runpy,
PID 1 (and exec) really join the container's cgroups, `run --rm` leaves nothing behind, and the runtime's
own writes into the container's /etc can never be sent to the host by a symlink in the image.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from tests.runtime.support import BUSYBOX, PYTHONS, ROOT, container_cgroups, python39, python_for

FIELDS = ["rm", "detach", "name", "env", "workdir", "user", "hostname", "memory", "cpus", "pids_limit", "volume",
          "read_only", "network", "entrypoint", "init", "interactive", "tty", "security_opt", "image", "cmd"]

# argument lists the fast reader must take itself (what users and the benchmark type)
FAST = [
    ["--rm", "bb", "/bin/true"],
    ["bb"],
    ["bb", "sh", "-c", "exit 3"],
    ["bb", "--rm", "-e", "X=1"],  # after the image everything is the command's
    ["--network=none", "--name=web", "bb"],
    ["--rm", "-d", "--name", "x", "-e", "A=1", "-eB=2", "--env=C=3", "--env", "D", "-w", "/tmp", "-u", "1000:1000",
     "--hostname", "h", "-m", "32m", "--cpus", "0.5", "--pids-limit", "20", "-v", "/a:/b:ro", "--volume=/c:/d",
     "--read-only", "--network", "host", "--entrypoint", "/bin/sh", "--init", "img:tag", "-c", "echo hi"],
    ["-m32m", "--pids-limit=5", "--cpus=1e-1", "--detach", "bb", "true"],
    ["--name", "", "bb"],
    ["-it", "--security-opt", "seccomp=unconfined", "bb", "sh"],
    ["-i", "-t", "--tty", "--interactive", "--security-opt=no-new-privileges", "-ti", "bb"],
    ["--network", "bridge", "-p", "8080:80", "-p80", "--publish=127.0.0.1::53/udp", "-P", "bb"],
    ["--network", "mynet", "--network-alias", "a", "--dns", "192.0.2.1", "--add-host", "db:10.0.0.1", "bb"],
]
# argument lists it must leave to argparse (which may accept them or refuse them)
OTHERS = [
    ["--rm", "bb", "--", "true"], ["--", "bb", "true"], ["--net", "host", "bb"], ["-dm", "32m", "bb"],
    ["--cpus", "x", "bb"], ["-p", "--rm", "bb"], ["--name"], ["--name", "--rm", "bb"], [], ["-h"],
    ["-m=32m", "bb"], ["--name=", "bb"], ["--cpus", "-1", "bb"], ["-e", "-x", "bb"], ["--rm", "-", "x"],
    ["--rm=1", "bb"], ["--bogus", "bb"], ["--pids-limit", "1.5", "bb"], ["--cpus", "", "bb"],
]

COMPARE = """
import contextlib, io, json, sys
from hostprep.runtime import cli
fields, fast_cases, other_cases = json.loads(sys.argv[1])
report = []
for must_be_fast, cases in ((True, fast_cases), (False, other_cases)):
    for args in cases:
        fast = cli.parse_run(args)
        try:
            with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
                ns = cli._parser().parse_args(["run"] + args)
            ref = {k: getattr(ns, k) for k in fields}
        except SystemExit as exc:
            ref = "exit %s" % exc.code
        report.append([args, must_be_fast, None if fast is None else {k: getattr(fast, k) for k in fields}, ref])
print(json.dumps(report))
"""


@pytest.mark.parametrize("python", PYTHONS)
def test_fast_run_parser_agrees_with_argparse(python: str) -> None:
    exe = python_for(python)
    res = subprocess.run([exe, "-c", COMPARE, json.dumps([FIELDS, FAST, OTHERS])], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True)
    for args, must_be_fast, fast, ref in json.loads(res.stdout):
        if must_be_fast:
            assert fast is not None, f"{args}: left to argparse"
        if fast is not None:
            assert fast == ref, f"{args}: fast path read {fast}, argparse {ref}"


def test_fast_run_parser_refuses_what_argparse_refuses(rt) -> None:
    """End to end: a bad value still gets argparse's message and exit code 2, nothing is started."""
    res = rt("run", "--rm", "--cpus", "x", "bb", "true")
    assert res.returncode == 2 and "invalid float value" in res.stderr


def _build(out: Path, python: str | None = None) -> None:
    cmd = [sys.executable, "-m", "hostprep.runtime.build", str(out)] + (["--python", python] if python else [])
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("interpreter", ["python3 from PATH", "python3.9 in the #! line", "python3.6 in the #! line"])
def test_zipapp_runs_directly_without_site_or_environment(rt, tmp_path: Path, interpreter: str) -> None:
    pyz = tmp_path / "hostprep-runtime"
    _build(pyz, python_for(interpreter.split()[0]) if "#!" in interpreter else None)
    names = zipfile.ZipFile(pyz).namelist()
    assert "hostprep/runtime/container.pyc" in names and "__main__.py" in names
    # a package on PYTHONPATH that would shadow the runtime: `-I` must ignore it
    fake = tmp_path / "fake" / "hostprep"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise SystemExit('the environment was read')\n")
    env = dict(os.environ, HOSTPREP_RUNTIME_ROOT=str(rt.state), PYTHONPATH=str(fake.parent))
    res = subprocess.run([str(pyz), "run", "--rm", "bb", "sh", "-c", "echo direct $$"], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=60)
    assert (res.returncode, res.stdout, res.stderr) == (0, "direct 1\n", "")
    # exec resolves its command on the container's PATH with nothing left to import from the host
    name = "zip" + str(os.getpid())
    assert subprocess.run([str(pyz), "run", "-d", "--name", name, "bb", "sleep", "30"], env=env,
                          capture_output=True).returncode == 0
    try:
        res = subprocess.run([str(pyz), "exec", name, "sh", "-c", "echo in $(hostname)"], capture_output=True,
                             text=True, env=env, timeout=60)
        assert res.returncode == 0 and res.stdout.startswith("in "), res.stderr
    finally:
        subprocess.run([str(pyz), "rm", "-f", name], env=env, capture_output=True)
    # and it is still an ordinary zipapp
    res = subprocess.run([python39(), str(pyz), "ps", "-a"], capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 0 and res.stdout.startswith("ID"), res.stderr


def test_run_rm_leaves_nothing_behind(rt) -> None:
    """Each run is checked to have run (exit code, output, the pids limit at work) before
    "nothing behind" is believed: a run refused at once would leave nothing behind too."""
    before = container_cgroups()
    containers = rt.state / "containers"
    existing = set(os.listdir(containers)) if containers.exists() else set()
    plain = rt("run", "--rm", "bb", "sh", "-c", "echo $$")
    assert (plain.returncode, plain.stdout) == (0, "1\n"), plain.stderr
    wrote = rt("run", "--rm", "bb", "sh", "-c", "echo x > /etc/new && cat /etc/new; exit 4")
    assert (wrote.returncode, wrote.stdout) == (4, "x\n"), wrote.stderr
    # the limits were applied: the 51st process cannot be forked (the subshell dies there; its sleeps die with
    # PID 1 when it exits; their output goes to /dev/null so they do not hold grep's pipe open for 30 s)
    limited = rt("run", "--rm", "-m", "64m", "--pids-limit", "50", "bb", "sh", "-c",
                 "(i=0; while [ $i -lt 60 ]; do sleep 30 >/dev/null 2>&1 & i=$((i+1)); done) 2>&1"
                 " | grep -c \"can't fork\"")
    assert (limited.returncode, limited.stdout) == (0, "1\n"), (limited.stdout, limited.stderr)
    assert set(os.listdir(containers)) == existing
    assert container_cgroups() <= before
    assert str(rt.state) not in Path("/proc/self/mountinfo").read_text()


def test_pid1_and_exec_are_in_the_container_cgroups(rt) -> None:
    started = rt("run", "-d", "--name", "cgtest", "--pids-limit", "30", "bb", "sleep", "60")
    assert started.returncode == 0, started.stderr
    try:
        state = json.loads(rt("inspect", "cgtest").stdout)
        assert state["cgroup"], "no cgroup was created"
        own = Path(f"/proc/{state['pid1']}/cgroup").read_text()
        # a /proc/PID/cgroup line is "ID:CONTROLLERS:PATH"; v2's unified hierarchy has no controller names
        names = {ctrl: ("" if ctrl == "unified" else ctrl) for ctrl in state["cgroup"]}

        def lines_of(text: str, ctrl: str) -> list[str]:
            return [x for x in text.splitlines()
                    if (x.split(":")[1] == "" if names[ctrl] == "" else names[ctrl] in x.split(":")[1].split(","))]

        for ctrl, path in state["cgroup"].items():
            rel = path.split("/sys/fs/cgroup/", 1)[1].split("/", 1)[1] if ctrl != "unified" else \
                path.split("/sys/fs/cgroup/", 1)[1]  # hostprep-runtime/<id>
            line = lines_of(own, ctrl)
            assert line and line[0].endswith("/" + rel), (ctrl, own)
        # exec lands in the same cgroups: inside the cgroup namespace they are its root, "/" -- each of the
        # container's cgroups (v1 controllers, or the unified one on v2) is checked, none is skipped
        inside = rt("exec", "cgtest", "cat", "/proc/self/cgroup").stdout
        for ctrl in state["cgroup"]:
            line = lines_of(inside, ctrl)
            assert len(line) == 1 and line[0].endswith(":/"), (ctrl, inside)
    finally:
        rt("rm", "-f", "cgtest")
    assert not any(Path(p).exists() for p in state["cgroup"].values())


def _tar_bytes(entries: list[tarfile.TarInfo], files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        t.add(BUSYBOX, arcname="bin/busybox")
        for applet in ("sh", "true", "cat", "ls"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            t.addfile(info)
        for info in entries:
            t.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_image_symlinks_cannot_send_runtime_writes_to_the_host(rt, tmp_path: Path) -> None:
    host_dir = tmp_path / "host-etc"
    host_dir.mkdir()
    link = tarfile.TarInfo("etc")
    link.type = tarfile.SYMTYPE
    link.linkname = str(host_dir)  # absolute: inside the container it is a path of the container
    (tmp_path / "img.tar").write_bytes(_tar_bytes([link], {}))
    assert rt("import", str(tmp_path / "img.tar"), "etclink").returncode == 0
    res = rt("run", "--rm", "etclink", "sh", "-c", "echo ran")
    assert res.stdout == "ran\n", res.stderr
    assert list(host_dir.iterdir()) == []  # /etc/hostname and /etc/hosts never reached the host


def test_top_level_mount_point_that_is_a_symlink_is_refused(rt, tmp_path: Path) -> None:
    host_dir = tmp_path / "host-dev"
    host_dir.mkdir()
    link = tarfile.TarInfo("dev")
    link.type = tarfile.SYMTYPE
    link.linkname = str(host_dir)
    (tmp_path / "dev.tar").write_bytes(_tar_bytes([link], {}))
    assert rt("import", str(tmp_path / "dev.tar"), "devlink").returncode == 0
    res = rt("run", "--rm", "devlink", "true")
    assert res.returncode == 125 and "/dev is not a directory" in res.stderr
    assert list(host_dir.iterdir()) == []


def test_detached_run_returns_once_running(rt) -> None:
    t0 = time.monotonic()
    started = rt("run", "-d", "--name", "quick", "bb", "sleep", "600")
    assert started.returncode == 0, started.stderr
    try:
        assert "running" in [line.split()[3] for line in rt("ps").stdout.splitlines()[1:] if "quick" in line]
        # a generous bound that only tells "returned" from "waited for the container" (600 s)
        assert time.monotonic() - t0 < 120
    finally:
        rt("rm", "-f", "quick")


def test_cgroup_v2_join_by_the_supervisor(rt) -> None:
    """On v2 the supervisor moves PID 1 (cgroup.procs) while PID 1 builds its root; checked on a real v2
    hierarchy: the unified one of a hybrid machine, or /sys/fs/cgroup itself on a v2 machine."""
    v2 = next((p for p in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup") if os.path.exists(p + "/cgroup.controllers")),
              None)
    if v2 is None:
        pytest.skip("no cgroup v2 hierarchy on this machine")
    env = dict(rt.env, HOSTPREP_RUNTIME_CGROUP_ROOT=v2)
    parent = Path(v2, "hostprep-runtime")
    parent_existed = parent.exists()

    def call(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([rt.python, "-m", "hostprep.runtime", *args], capture_output=True, text=True, env=env,
                              timeout=60)

    res = call("run", "--rm", "bb", "sh", "-c", "grep '^0::' /proc/self/cgroup; echo $$")
    assert res.stdout.split() == ["0::/", "1"], res.stderr
    started = call("run", "-d", "--name", "v2cg", "bb", "sleep", "60")
    assert started.returncode == 0, started.stderr
    try:
        state = json.loads(call("inspect", "v2cg").stdout)
        assert state["cgroup"] == {"unified": f"{v2}/hostprep-runtime/{state['id']}"}
        own = Path(f"/proc/{state['pid1']}/cgroup").read_text()
        assert f"0::/hostprep-runtime/{state['id']}" in own.splitlines()
        assert call("exec", "v2cg", "grep", "^0::", "/proc/self/cgroup").stdout.strip() == "0::/"
    finally:
        call("rm", "-f", "v2cg")
        if not parent_existed:
            try:
                parent.rmdir()  # made by this test; left alone if someone else's container is in it now
            except OSError:
                pass
    assert not Path(state["cgroup"]["unified"]).exists()
