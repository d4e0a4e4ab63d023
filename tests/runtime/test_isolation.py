"""hostprep-runtime for real: as root, real namespaces, overlayfs, pivot_root and cgroups.

Each test runs commands in a container made from Debian's busybox-static and checks one behaviour
from inside (and, where it matters, from outside) the container.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from tests.runtime.support import BUSYBOX, ROOT, container_cgroups
from tests.runtime.support import python39 as _python39


def test_pid1_is_the_command_and_host_processes_are_invisible(rt) -> None:
    res = rt("run", "--rm", "bb", "sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'")
    assert res.returncode == 0, res.stderr
    pid, count = res.stdout.split()
    assert pid == "1"
    assert int(count) <= 3  # sh, ls, grep: nothing of the host's hundreds of processes


def test_exit_code_and_signal_exit(rt) -> None:
    assert rt("run", "--rm", "bb", "sh", "-c", "exit 7").returncode == 7
    # PID 1 ignores signals it has no handler for (as the kernel does for any init), so the command is
    # run under --init here to see a signal death become 128+9
    assert rt("run", "--rm", "--init", "bb", "sh", "-c", "kill -9 $$").returncode == 137


def test_init_reaps_zombies(rt) -> None:
    """An orphan that exits is reaped by the init: the shell waits until no `sleep` is left in any state (a
    zombie still shows in ps), for at most 10 s, and then counts zombies: without reaping the wait runs out and
    the zombie is counted. The first line proves the orphan existed."""
    res = rt("run", "--rm", "--init", "bb", "sh", "-c",
             "(sleep 1 &); i=0; until ps -o comm | grep -q '^sleep$' || [ $i -ge 500 ]; do i=$((i+1)); done; "
             "ps -o comm | grep -c '^sleep$'; i=0; "
             "while ps -o comm | grep -q '^sleep$' && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; "
             "ps -o stat,comm | grep -c '^Z' || true")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1", "0"], (res.stdout, res.stderr)


def test_hostname_and_uts(rt) -> None:
    res = rt("run", "--rm", "--hostname", "box1", "bb", "hostname")
    assert res.stdout.strip() == "box1"
    assert os.uname().nodename != "box1"


def _mount_points(mountinfo: str) -> list[str]:
    """The mount points (5th field, octal escapes decoded) of a /proc/PID/mountinfo text."""
    return [line.split()[4].encode().decode("unicode_escape") for line in mountinfo.splitlines() if line.strip()]


def test_mounts_inside_do_not_reach_the_host(rt, tmp_path: Path) -> None:
    """Mounts that succeed inside the container (the overlay root, a -v bind, and a second -v bound inside the
    first) are in the container's mount table and not in the host's.

    Run on a "host" whose mounts are all shared, as systemd makes them (this machine's / is private, which would
    make the check vacuous): a mount namespace of `unshare --propagation shared`, where the CLI is started. Were
    the container's mounts left shared, its overlay root and the nested volume would propagate back there. The
    command's own `mount` is refused (no SYS_ADMIN, and the runtime offers no --cap-add), so the mounts made
    inside are the runtime's own, made in the container's namespace after it was made private."""
    src, sub = tmp_path / "src", tmp_path / "sub"
    src.mkdir()
    sub.mkdir()
    (sub / "f").write_text("nested volume\n")
    holder = subprocess.Popen(["unshare", "--mount", "--propagation", "shared", "sleep", "600"])
    name = f"mnt{os.getpid()}"
    try:
        # unshare enters the new namespace first and makes its mounts shared after: wait for both (under load
        # the namespace was seen a moment before / turned shared)
        deadline = time.monotonic() + 30
        while True:
            host_mounts = Path(f"/proc/{holder.pid}/mountinfo").read_text()
            own = os.readlink(f"/proc/{holder.pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
            if own and " / / " in host_mounts and "shared:" in host_mounts.split(" / / ", 1)[1].splitlines()[0]:
                break
            assert time.monotonic() < deadline and holder.poll() is None, ("unshare made no shared mount "
                                                                            "namespace", host_mounts[:2000])
            time.sleep(0.01)

        def in_host(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run(["nsenter", "-t", str(holder.pid), "-m", "--", rt.python, "-m",
                                   "hostprep.runtime", *args], capture_output=True, text=True, env=rt.env,
                                  timeout=60)

        started = in_host("run", "-d", "--name", name, "-v", f"{src}:/data", "-v", f"{sub}:/data/sub", "bb", "sh",
                          "-c", "mkdir /tmp/m && mount -t tmpfs none /tmp/m 2>/dev/null && echo mounted; "
                          "echo ran; cat /data/sub/f; exec sleep 600")
        assert started.returncode == 0, started.stderr
        state = json.loads(in_host("inspect", name).stdout)
        state = state[0] if isinstance(state, list) else state
        deadline = time.monotonic() + 30
        while "nested volume" not in in_host("logs", name).stdout:
            assert time.monotonic() < deadline, in_host("logs", name)
            time.sleep(0.05)
        assert in_host("logs", name).stdout == "ran\nnested volume\n"  # the command's own mount was refused
        inside = _mount_points(Path(f"/proc/{state['pid1']}/mountinfo").read_text())
        assert {"/", "/data", "/data/sub"} <= set(inside), inside
        outside = _mount_points(Path(f"/proc/{holder.pid}/mountinfo").read_text())
        leaked = [m for m in outside if m.startswith((str(rt.state), str(src), str(sub)))]
        assert not leaked, leaked
        assert in_host("rm", "-f", name).returncode == 0
        outside = _mount_points(Path(f"/proc/{holder.pid}/mountinfo").read_text())
        assert not [m for m in outside if m.startswith(str(rt.state))]
    finally:
        if holder.poll() is None:
            subprocess.run(["nsenter", "-t", str(holder.pid), "-m", "--", rt.python, "-m", "hostprep.runtime", "rm",
                            "-f", name], capture_output=True, env=rt.env, timeout=60)
        holder.kill()
        holder.wait()


def test_writes_do_not_reach_the_image(rt) -> None:
    assert rt("run", "--rm", "bb", "sh", "-c", "echo changed > /etc/passwd && rm /bin/ls").returncode == 0
    res = rt("run", "--rm", "bb", "sh", "-c", "head -1 /etc/passwd; test -e /bin/ls && echo ls-there")
    assert res.stdout.split() == ["root:x:0:0:root:/root:/bin/sh", "ls-there"]


def test_capabilities_are_dropped(rt) -> None:
    res = rt("run", "--rm", "bb", "sh", "-c", "grep -E 'CapBnd|CapEff|NoNewPrivs' /proc/self/status")
    fields = dict(line.split(":\t") for line in res.stdout.strip().splitlines())
    assert fields["CapBnd"] == fields["CapEff"] == "00000000a80425fb"  # Docker's 14 default capabilities
    assert fields["NoNewPrivs"] == "1"
    denied = rt("run", "--rm", "bb", "sh", "-c", "hostname other 2>&1; echo rc=$?")
    assert "rc=1" in denied.stdout  # sethostname needs SYS_ADMIN


def test_user_option(rt) -> None:
    assert rt("run", "--rm", "-u", "app", "bb", "id", "-u").stdout.strip() == "1000"
    assert rt("run", "--rm", "-u", "1234:5678", "bb", "sh", "-c", "id -u; id -g").stdout.split() == ["1234", "5678"]
    caps = rt("run", "--rm", "-u", "app", "bb", "grep", "CapEff", "/proc/self/status").stdout
    assert caps.split()[-1] == "0000000000000000"


def test_volumes_and_read_only(rt, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("from host\n")
    res = rt("run", "--rm", "-v", f"{tmp_path}:/data:ro", "bb", "sh", "-c",
             "cat /data/in.txt; echo x > /data/new 2>/dev/null && echo wrote || echo refused")
    assert res.stdout.split("\n")[:2] == ["from host", "refused"]
    assert not (tmp_path / "new").exists()
    rw = rt("run", "--rm", "-v", f"{tmp_path}:/data", "bb", "sh", "-c", "echo y > /data/new")
    assert rw.returncode == 0 and (tmp_path / "new").read_text() == "y\n"
    ro = rt("run", "--rm", "--read-only", "bb", "sh", "-c", "touch /x 2>/dev/null && echo wrote || echo refused")
    assert ro.stdout.strip() == "refused"


def test_memory_limit_kills_inside_only(rt) -> None:
    hog = "head -c 300000000 /dev/zero | tail > /dev/null; echo $?"
    unlimited = rt("run", "--rm", "bb", "sh", "-c", hog)
    assert unlimited.stdout.strip() == "0", (unlimited.stdout, unlimited.stderr)
    # a host process the container's OOM must not touch: alive (killed below) for longer than any slow run takes,
    # so that its end can only be a kill (under emulation the run outlasted a 60 s sleep)
    bystander = subprocess.Popen(["sleep", "3600"])
    try:
        res = rt("run", "--name", "oom", "-m", "32m", "bb", "sh", "-c", hog)
        # The kernel kills `tail`; while its memory is still being reaped, sh's own write can hit the limit
        # too, so the SIGKILL shows either in sh's report or as PID 1's exit code (128+9).
        assert res.stdout.strip() == "137" or res.returncode == 137, (res.returncode, res.stdout, res.stderr)
        state = json.loads(rt("inspect", "oom").stdout)
        state = state[0] if isinstance(state, list) else state
        assert state["oom_killed"] is True, state
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
        rt("rm", "-f", "oom")


def test_pids_limit_stops_a_fork_bomb(rt) -> None:
    """The limit stops the container's forks at 20 while the host, at the same moment, starts 40 processes: the
    limit is on the container's cgroup, not on the one the CLI was started from."""
    name = f"bomb{os.getpid()}"
    started = rt("run", "-d", "--name", name, "--pids-limit", "20", "bb", "sh", "-c",
                 "(i=0; while [ $i -lt 60 ]; do sleep 600 & i=$((i+1)); done); echo forked; exec sleep 600")
    assert started.returncode == 0, started.stderr
    host_procs: list[subprocess.Popen] = []
    try:
        deadline = time.monotonic() + 60
        while "forked" not in rt("logs", name).stdout:
            assert time.monotonic() < deadline, rt("logs", name)
            time.sleep(0.05)
        logs = rt("logs", name)
        assert "can't fork" in logs.stdout + logs.stderr, logs  # the subshell died at the limit; PID 1 lives
        state = json.loads(rt("inspect", name).stdout)
        state = state[0] if isinstance(state, list) else state
        pids_cgroup = state["cgroup"].get("pids") or state["cgroup"]["unified"]
        held = Path(pids_cgroup, "cgroup.procs").read_text().split()
        assert 15 <= len(held) <= 20, held  # the shell and its sleeps, up to the limit
        # and outside the container, nothing is held back while the container sits at its limit
        host_procs = [subprocess.Popen(["sleep", "60"]) for _ in range(40)]
        assert all(p.poll() is None for p in host_procs)
    finally:
        for p in host_procs:
            p.kill()
            p.wait()
        rt("rm", "-f", name)


def test_network_none_has_only_loopback(rt) -> None:
    res = rt("run", "--rm", "bb", "sh", "-c", "ls /sys/class/net")
    assert res.stdout.split() == ["lo"]


def test_masked_and_readonly_proc_paths(rt) -> None:
    masked = [p for p in ("/proc/timer_list", "/proc/keys", "/proc/sched_debug", "/proc/kcore") if os.path.exists(p)]
    assert masked, "no maskable /proc file on this kernel"
    for path in masked:
        res = rt("run", "--rm", "bb", "sh", "-c", f"wc -c < {path}")
        assert res.stdout.strip() == "0", (path, res.stdout, res.stderr)
    res = rt("run", "--rm", "bb", "sh", "-c", "echo 1 > /proc/sys/vm/drop_caches; echo $?")
    assert res.stdout.strip() != "0" and "Read-only" in res.stderr
    res = rt("run", "--rm", "bb", "sh", "-c", "ls /sys/firmware | wc -l")
    assert res.stdout.strip() == "0"


def test_rm_leaves_no_mount_or_cgroup(rt) -> None:
    """The cgroups checked are the ones the container had (from inspect: v1 controller directories on a v1 or
    hybrid machine, the unified one on v2), seen to exist before rm, so the check is not vacuous on either."""
    res = rt("run", "-d", "--name", "keepme", "bb", "sleep", "600")
    assert res.returncode == 0, res.stderr
    state = json.loads(rt("inspect", "keepme").stdout)
    state = state[0] if isinstance(state, list) else state
    cid = state["id"]
    made = sorted(state["cgroup"].values())
    assert made and all(Path(p).is_dir() and p.endswith("/hostprep-runtime/" + cid) for p in made), made
    assert set(made) <= container_cgroups()
    assert rt("stop", "-t", "0", "keepme").returncode == 0
    ps = rt("ps", "-a").stdout
    assert "keepme" in ps and "exited(137)" in ps, ps
    assert rt("rm", "keepme").returncode == 0
    assert "keepme" not in rt("ps", "-a").stdout
    assert not [p for p in made if Path(p).exists()], made
    assert not [p for p in container_cgroups() if p.endswith("/" + cid)]
    assert str(rt.state / "containers" / cid) not in Path("/proc/self/mountinfo").read_text()
    assert not (rt.state / "containers" / cid).exists()


def _tar_with(tmp: Path, name: str, build) -> Path:
    path = tmp / f"{name}.tar"
    with tarfile.open(path, "w") as t:
        build(t)
    return path


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink-out", "hardlink-out", "device", "through-link"])
def test_unsafe_tar_entries_are_refused(rt, tmp_path: Path, kind: str) -> None:
    def add(t: tarfile.TarFile, name: str, data: bytes = b"x", **kw) -> None:
        info = tarfile.TarInfo(name)
        for k, v in kw.items():
            setattr(info, k, v)
        info.size = len(data) if info.type == tarfile.REGTYPE else 0
        t.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)

    def build(t: tarfile.TarFile) -> None:
        add(t, "ok.txt")
        if kind == "dotdot":
            add(t, "../escape.txt")
        elif kind == "absolute":
            add(t, "/etc/escape.txt")
        elif kind == "symlink-out":
            add(t, "a/link", type=tarfile.SYMTYPE, linkname="../../../etc")
        elif kind == "hardlink-out":
            add(t, "hl", type=tarfile.LNKTYPE, linkname="../../etc/passwd")
        elif kind == "device":
            add(t, "dev/sda", type=tarfile.BLKTYPE, devmajor=8, devminor=0)
        elif kind == "through-link":
            add(t, "lib", type=tarfile.SYMTYPE, linkname="/tmp")
            add(t, "lib/hostprep-escape-test", b"pwned")

    tar = _tar_with(tmp_path, kind, build)
    before = sorted(p.name for p in (rt.state / "layers").iterdir())
    res = rt("import", str(tar), f"bad-{kind}")
    assert res.returncode != 0
    assert "entry" in res.stderr
    assert sorted(p.name for p in (rt.state / "layers").iterdir()) == before
    assert not Path("/tmp/hostprep-escape-test").exists()
    assert f"bad-{kind}" not in rt("images").stdout


def test_errors_are_clear(rt) -> None:
    res = rt("run", "--rm", "nosuchimage", "true")
    assert res.returncode == 125 and "no such image" in res.stderr
    res = rt("run", "--rm", "-m", "lots", "bb", "true")
    assert res.returncode == 125 and "invalid size" in res.stderr
    res = rt("run", "--rm", "--bogus", "bb", "true")
    assert res.returncode == 2


def test_runs_on_python_39(rt) -> None:
    res = rt("run", "--rm", "--hostname", "py39", "bb", "sh", "-c", "hostname; echo $$", python=_python39())
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["py39", "1"]


def _layer_tar(files: dict[str, bytes], mode: int = 0o755) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _busybox_layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        t.add(BUSYBOX, arcname="bin/busybox")
        for applet in ("sh", "cat", "echo"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            t.addfile(info)
    return buf.getvalue()


def _sha(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_import_oci_layout_directory_and_tar(rt, tmp_path: Path) -> None:
    import gzip
    import json

    base = _busybox_layer()
    top = _layer_tar({"msg.txt": b"from the OCI layer\n", "bin/.wh.echo": b""})
    layout = tmp_path / "oci"
    (layout / "blobs/sha256").mkdir(parents=True)

    def put(data: bytes) -> dict:
        (layout / "blobs/sha256" / _sha(data).split(":")[1]).write_bytes(data)
        return {"digest": _sha(data), "size": len(data)}

    gz_base, gz_top = gzip.compress(base), gzip.compress(top)
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Entrypoint": ["/bin/cat"], "Cmd": ["/msg.txt"], "Env": ["GREETING=hi"]},
              "rootfs": {"type": "layers", "diff_ids": [_sha(base), _sha(top)]}}
    cfg = put(json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **put(gz_base)},
                           {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **put(gz_top)}]}
    man = put(json.dumps(manifest).encode())
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", **man}]}))
    assert rt("import", str(layout), "ocidir:1").returncode == 0
    res = rt("run", "--rm", "ocidir:1")
    assert res.stdout == "from the OCI layer\n", res.stderr
    inside = rt("run", "--rm", "--entrypoint", "/bin/sh", "ocidir:1", "-c",
                "echo $GREETING; test -e /bin/echo && echo echo-present || echo echo-whited-out")
    assert inside.stdout.split() == ["hi", "echo-whited-out"], inside.stderr
    with tarfile.open(tmp_path / "oci.tar", "w") as t:
        t.add(layout, arcname=".")
    assert rt("import", str(tmp_path / "oci.tar"), "ocitar").returncode == 0
    assert rt("run", "--rm", "ocitar").stdout == "from the OCI layer\n"
    # a corrupted blob is refused
    blob = layout / "blobs/sha256" / _sha(gz_top).split(":")[1]
    blob.write_bytes(gzip.compress(_layer_tar({"msg.txt": b"tampered\n"})))
    bad = rt("import", str(layout), "ocibad")
    assert bad.returncode != 0 and "digest" in bad.stderr


def test_import_docker_save_tar(rt, tmp_path: Path) -> None:
    import json

    base = _busybox_layer()
    config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/cat", "/etc/motd"],
                                                                 "WorkingDir": "/etc"},
              "rootfs": {"type": "layers", "diff_ids": [_sha(base), _sha(_layer_tar({"etc/motd": b"saved\n"}, 0o644))]}}
    cfg_name = _sha(json.dumps(config).encode()).split(":")[1] + ".json"
    archive = tmp_path / "saved.tar"
    with tarfile.open(archive, "w") as t:
        for name, data in ((cfg_name, json.dumps(config).encode()), ("l1/layer.tar", base),
                           ("l2/layer.tar", _layer_tar({"etc/motd": b"saved\n"}, 0o644)),
                           ("manifest.json", json.dumps([{"Config": cfg_name, "RepoTags": ["saved:v1"],
                                                          "Layers": ["l1/layer.tar", "l2/layer.tar"]}]).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    assert rt("import", str(archive), "saved:v1").returncode == 0
    res = rt("run", "--rm", "saved:v1")
    assert res.stdout == "saved\n", res.stderr
    assert rt("run", "--rm", "saved:v1", "/bin/sh", "-c", "pwd").stdout.strip() == "/etc"


def test_image_from_host(rt) -> None:
    res = rt("image", "from-host", "hostecho", "/bin/echo", "/bin/ls")
    assert res.returncode == 0, res.stderr
    out = rt("run", "--rm", "hostecho", "/bin/echo", "from", "host")
    assert out.stdout == "from host\n", out.stderr
    assert "images" not in rt("images").stderr and "hostecho:latest" in rt("images").stdout


def test_zipapp_runs_a_container(rt, tmp_path: Path) -> None:
    pyz = tmp_path / "hostprep-runtime.pyz"
    build = subprocess.run([sys.executable, "-m", "hostprep.runtime.build", str(pyz)], capture_output=True,
                           text=True, cwd=ROOT)
    assert build.returncode == 0, build.stderr
    env = dict(os.environ, HOSTPREP_RUNTIME_ROOT=str(rt.state))
    env.pop("PYTHONPATH", None)
    res = subprocess.run([_python39(), str(pyz), "run", "--rm", "bb", "sh", "-c", "echo zipapp $$"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert res.stdout.strip() == "zipapp 1", res.stderr


def _wait_for(what: str, check, timeout: float = 30.0) -> None:
    """Poll `check()` until it is true: a wait on the event itself, bounded only to catch a hang."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f}s"
        time.sleep(0.05)


def _status(rt, name: str) -> str:
    state = json.loads(rt("inspect", name).stdout)
    state = state[0] if isinstance(state, list) else state
    return state["status"]


def test_detached_lifecycle_exec_logs_stop_kill(rt) -> None:
    started = rt("run", "-d", "--name", "svc", "bb", "sh", "-c",
                 "trap 'echo bye; exit 3' TERM; echo up; while :; do sleep 1; done")
    assert started.returncode == 0, started.stderr
    cid = started.stdout.strip()
    _wait_for("the trap set and 'up' logged", lambda: rt("logs", "svc").stdout == "up\n")
    assert f"{cid}" in rt("ps").stdout and "running" in rt("ps").stdout  # survived the CLI that started it
    same = rt("exec", "svc", "sh", "-c", "[ $(readlink /proc/1/ns/pid) = $(readlink /proc/self/ns/pid) ] && "
              "[ $(readlink /proc/1/ns/mnt) = $(readlink /proc/self/ns/mnt) ] && "
              "[ $(readlink /proc/1/ns/net) = $(readlink /proc/self/ns/net) ] && hostname")
    assert same.returncode == 0 and same.stdout.strip() == cid, same.stderr
    caps = rt("exec", "svc", "grep", "CapBnd", "/proc/self/status").stdout.split()[-1]
    assert caps == "00000000a80425fb"
    assert rt("exec", "svc", "sh", "-c", "exit 5").returncode == 5
    assert rt("stop", "-t", "5", "svc").returncode == 0
    ps = rt("ps", "-a").stdout
    assert "exited(3)" in ps
    assert rt("logs", "svc").stdout == "up\nbye\n"
    assert rt("rm", "svc").returncode == 0
    # PID 1 without a TERM handler ignores SIGTERM: stop falls back to SIGKILL after the grace period (a bound
    # far above -t 1 that only catches a stop that never falls back)
    assert rt("run", "-d", "--name", "stubborn", "bb", "sleep", "100").returncode == 0
    assert _status(rt, "stubborn") == "running"
    t0 = time.monotonic()
    assert rt("stop", "-t", "1", "stubborn").returncode == 0
    assert time.monotonic() - t0 < 60
    assert "exited(137)" in rt("ps", "-a").stdout
    rt("rm", "stubborn")
    assert rt("run", "-d", "--name", "killme", "bb", "sleep", "100").returncode == 0
    assert _status(rt, "killme") == "running"
    assert rt("kill", "-s", "KILL", "killme").returncode == 0
    _wait_for("killme seen exited", lambda: _status(rt, "killme") != "running")
    assert "exited(137)" in rt("ps", "-a").stdout
    assert rt("rm", "-f", "killme").returncode == 0
    assert "killme" not in rt("ps", "-a").stdout
