"""Start-to-exit latency of `hostprep-runtime run --rm IMAGE /bin/true` beside `runc run` and `crun run`.

Run as root: python bench/runtime/bench_runtime.py [-n 100]. All of them start the same busybox-static root
filesystem. `hostprep-runtime` is the single file hosts get (`python -m hostprep.runtime.build OUT --python
PY`, executed directly); the console script of the control node's venv and `python -m hostprep.runtime` are
timed too. Runs are interleaved (one of each in turn), so a load that comes and goes hits all of them alike.
Median, p90 and ratios are printed; a peer that cannot run here is reported with its own error message.
After the runs the benchmark checks that nothing was left behind: no container state, no cgroup, no mount.
Target: faster than runc, within 1.5x of crun.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from hostprep.runtime import cgroups

ROOT = Path(__file__).resolve().parents[2]


def make_rootfs(base: Path) -> Path:
    rootfs = base / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", rootfs / "bin/busybox")
    for applet in ("sh", "true"):
        (rootfs / "bin" / applet).symlink_to("busybox")
    for d in ("proc", "sys", "dev", "tmp", "etc"):
        (rootfs / d).mkdir(exist_ok=True)
    return rootfs


def once(cmd: list[str], env: dict | None = None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, env=env)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).decode(errors="replace").strip()[-300:]
        raise RuntimeError(f"exit {proc.returncode}: {detail}")
    return elapsed


def oci_bundle(tool: str, base: Path, rootfs: Path) -> Path:
    bundle = base / f"bundle-{tool}"
    bundle.mkdir()
    (bundle / "rootfs").symlink_to(rootfs)
    subprocess.run([tool, "spec"], cwd=bundle, check=True, capture_output=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["/bin/true"]
    spec["root"] = {"path": str(rootfs), "readonly": True}
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


def container_cgroups() -> set[str]:
    """Every per-container cgroup of hostprep-runtime on this machine (v1 hierarchies and v2)."""
    return cgroups.existing()


def leftovers(state: Path, cgroups_before: set[str]) -> list[str]:
    found = [str(p) for p in (state / "containers").iterdir()] if (state / "containers").exists() else []
    found += sorted(container_cgroups() - cgroups_before)  # others' containers may be running meanwhile
    found += [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(state) in line]
    return found


def host_python() -> str:
    """/usr/bin/python3 when it is 3.9 or newer (what a host runs the zipapp with), else this interpreter."""
    system = "/usr/bin/python3"
    if os.path.exists(system) and subprocess.run(
            [system, "-c", "import sys; sys.exit(sys.version_info < (3, 9))"], capture_output=True).returncode == 0:
        return os.path.realpath(system)
    return os.path.realpath(sys.executable)


def stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=100)
    parser.add_argument("--python", default=host_python(),
                        help="the interpreter the zipapp is built for (default: the host's /usr/bin/python3, as on a "
                             "deployed host; else this one, without its venv)")
    opts = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="hostprep-bench-rt-"))
    samples: dict[str, list[float]] = {}
    reasons: dict[str, str] = {}
    left: list[str] = []
    cgroups_before = container_cgroups()
    try:
        rootfs = make_rootfs(base)
        tar = base / "rootfs.tar"
        with tarfile.open(tar, "w") as t:
            t.add(rootfs, arcname=".")
        state = base / "state"
        env = dict(os.environ, HOSTPREP_RUNTIME_ROOT=str(state))
        env_src = dict(env, PYTHONPATH=str(ROOT))
        pyz = base / "hostprep-runtime"
        subprocess.run([sys.executable, "-m", "hostprep.runtime.build", str(pyz), "--python", opts.python],
                       check=True, env=env_src, capture_output=True, cwd=ROOT)
        subprocess.run([str(pyz), "import", str(tar), "bench"], check=True, env=env, capture_output=True)
        candidates: dict[str, tuple[list[str], dict]] = {
            "hostprep-runtime": ([str(pyz), "run", "--rm", "bench", "/bin/true"], env)}
        # what `pip install` does for an installed package (an editable install compiles on first import, which
        # PYTHONDONTWRITEBYTECODE prevents): without it the two source-tree rows below include compiling
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "hostprep" / "runtime")], check=True)
        script = Path(sys.executable).parent / "hostprep-runtime"
        if script.exists():
            candidates["  (venv console script)"] = ([str(script), "run", "--rm", "bench", "/bin/true"], env)
        candidates["  (python -m, source tree)"] = ([sys.executable, "-m", "hostprep.runtime", "run", "--rm", "bench",
                                                     "/bin/true"], env_src)
        runs: dict[str, object] = {}
        for tool in ("runc", "crun"):
            if not shutil.which(tool):
                reasons[tool] = f"not installed (apt-get install {tool})"
                continue
            bundle = oci_bundle(tool, base, rootfs)
            counter = iter(range(10**7))
            runs[tool] = lambda tool=tool, bundle=bundle, counter=counter: [
                tool, "run", "--bundle", str(bundle), f"hpbench-{os.getpid()}-{next(counter)}"]
        for cmd, cmd_env in candidates.values():  # warm caches; a failure here is a failure
            once(cmd, cmd_env)
        for tool, make in list(runs.items()):
            try:
                once(make())
            except RuntimeError as exc:
                reasons[tool] = f"cannot run here: {exc}"
                del runs[tool]
        for _ in range(opts.n):
            for name, (cmd, cmd_env) in candidates.items():
                samples.setdefault(name, []).append(once(cmd, cmd_env))
            for tool, make in runs.items():
                samples.setdefault(tool, []).append(once(make()))
        left = leftovers(state, cgroups_before)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    peers = [name for name in ("runc", "crun") if name in samples]
    print(f"start-to-exit of /bin/true, {opts.n} runs each, interleaved; zipapp for {opts.python}")
    print(f"  {'':<28} {'median':>9} {'p90':>9}")
    for name, values in samples.items():
        median, p90 = stats(values)
        ratios = "" if name in peers else "".join(
            f"  {name.strip()} / {peer} = {median / stats(samples[peer])[0]:.2f}" for peer in peers)
        print(f"  {name:<28} {median * 1000:6.1f} ms {p90 * 1000:6.1f} ms{ratios}")
    for name, reason in reasons.items():
        print(f"  {name:<28} {reason}")
    if left:
        print("LEFT BEHIND after --rm: " + "; ".join(left))
        return 1
    print("left behind after all --rm runs: nothing (no state dir, no cgroup, no mount)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
