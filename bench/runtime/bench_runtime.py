"""Start-to-exit latency of `hostprep-runtime run --rm IMAGE /bin/true` beside `runc run` and `crun run`.

Run as root: python bench/runtime/bench_runtime.py [-n 100]. All three start the same busybox-static
root filesystem; the median of N runs is printed with ratios; a peer that cannot run here is reported
with the reason (its own error message). Target: faster than runc, within 1.5x of crun.
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

RUNTIME = [sys.executable, "-m", "hostprep.runtime"]


def make_rootfs(base: Path) -> Path:
    rootfs = base / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", rootfs / "bin/busybox")
    for applet in ("sh", "true"):
        (rootfs / "bin" / applet).symlink_to("busybox")
    for d in ("proc", "sys", "dev", "tmp", "etc"):
        (rootfs / d).mkdir(exist_ok=True)
    return rootfs


def timed(cmd: list[str], n: int, env: dict | None = None, cwd: Path | None = None) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, env=env, cwd=cwd)
        out.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).decode(errors="replace").strip()[-300:]
            raise RuntimeError(f"exit {proc.returncode}: {detail}")
    return out


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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=100)
    opts = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="hostprep-bench-rt-"))
    results: dict[str, float | str] = {}
    try:
        rootfs = make_rootfs(base)
        tar = base / "rootfs.tar"
        with tarfile.open(tar, "w") as t:
            t.add(rootfs, arcname=".")
        env = dict(os.environ, HOSTPREP_RUNTIME_ROOT=str(base / "state"),
                   PYTHONPATH=str(Path(__file__).resolve().parents[2]))
        subprocess.run([*RUNTIME, "import", str(tar), "bench"], check=True, env=env, capture_output=True)
        timed([*RUNTIME, "run", "--rm", "bench", "/bin/true"], 3, env)  # warm caches
        results["hostprep-runtime"] = statistics.median(timed([*RUNTIME, "run", "--rm", "bench", "/bin/true"],
                                                              opts.n, env))
        for tool in ("runc", "crun"):
            if not shutil.which(tool):
                results[tool] = f"not installed (apt-get install {tool})"
                continue
            try:
                bundle = oci_bundle(tool, base, rootfs)
                counter = iter(range(10**6))
                samples = []
                for _ in range(opts.n):
                    cid = f"hpbench-{os.getpid()}-{next(counter)}"
                    samples += timed([tool, "run", "--bundle", str(bundle), cid], 1)
                results[tool] = statistics.median(samples)
            except (RuntimeError, subprocess.CalledProcessError) as exc:
                results[tool] = f"cannot run here: {exc}"
    finally:
        shutil.rmtree(base, ignore_errors=True)
    ours = results["hostprep-runtime"]
    print(f"start-to-exit of /bin/true, median of {opts.n} runs")
    for name, value in results.items():
        if isinstance(value, float):
            ratio = "" if name == "hostprep-runtime" else f"  (hostprep-runtime / {name} = {ours / value:.2f})"
            print(f"  {name:<18} {value * 1000:8.1f} ms{ratio}")
        else:
            print(f"  {name:<18} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
