"""Builds and registry transfers of hostprep-runtime beside podman and skopeo, interleaved in one run.

`sudo .venv/bin/python bench/runtime/bench_build.py -n 5` times, on the same busybox base and context:

- a cold build (`--no-cache`) of a small multi-stage Dockerfile (RUN, COPY, COPY --from) by the runtime's
  zipapp and by `podman build --no-cache`;
- a fully cached rebuild of it by both (target: <= 0.5 s and faster than podman);
- with --registry: a push and a pull of a 100 MB image (one random layer) against a local docker-registry
  (plain HTTP on loopback) by the runtime and by skopeo (containers-storage -> docker://, docker:// -> oci:);
  with --gzip also a pull of the same image with its layer gzipped (by skopeo --dest-compress) by both.

It prints median and p90 per tool and the ratio to the peer, and the load average (a shared machine: report it
with the figures).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from tests.runtime.registry_support import Registry  # noqa: E402
from tests.runtime.support import busybox_rootfs_tar  # noqa: E402

DOCKERFILE = """FROM {base} AS build
RUN mkdir -p /out && for i in 1 2 3 4 5 6 7 8; do echo "file $i" > /out/f$i; done
COPY src /src
RUN cat /src/* > /out/all
FROM {base}
COPY --from=build /out /app
COPY src/a.txt /app/a.txt
ENV APP=/app
CMD ["ls", "/app"]
"""


CPU: dict[str, list[float]] = {}  # what `timed` measured last: CPU seconds (user+sys) of the command


def timed(cmd: list[str], env: dict | None = None, cpu: list[float] | None = None) -> float:
    """Wall seconds of cmd; with `cpu`, its CPU seconds (user+sys, children included) are appended there."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {res.stderr[-2000:]}")
    return elapsed


def stats(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return f"median {statistics.median(samples):.3f} s  p90 {p90:.3f} s"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=5)
    parser.add_argument("--registry", action="store_true", help="also push/pull 100 MB beside skopeo")
    parser.add_argument("--registry-only", action="store_true", help="only the push/pull part")
    parser.add_argument("--gzip", action="store_true", help="also pull the image with its layer gzipped")
    opts = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    base = Path(tempfile.mkdtemp(prefix="bench-build-"))
    podman_names = []
    try:
        from hostprep.runtime import build as zipbuild

        pyz = zipbuild.build(str(base / "hostprep-runtime.pyz"), sys.executable)
        env = dict(os.environ, HOSTPREP_RUNTIME_ROOT=str(base / "state"))
        tar = busybox_rootfs_tar(base)
        ours = [pyz]
        timed(ours + ["import", str(tar), "bb"], env)
        pbase = f"localhost/bench-build-{os.getpid()}-bb"
        timed(["podman", "import", str(tar), pbase])
        podman_names.append(pbase)
        ctx = base / "ctx"
        (ctx / "src").mkdir(parents=True)
        for name in "abcdef":
            (ctx / "src" / f"{name}.txt").write_text(name * 1000 + "\n")
        (ctx / "Dockerfile.ours").write_text(DOCKERFILE.format(base="bb"))
        (ctx / "Dockerfile.podman").write_text(DOCKERFILE.format(base=pbase))
        ptag = f"localhost/bench-build-{os.getpid()}-out"
        podman_names.append(ptag)
        ours_build = ours + ["build", "-t", "bench-out", "-f", str(ctx / "Dockerfile.ours"), str(ctx)]
        podman_build = ["podman", "build", "-t", ptag, "-f", str(ctx / "Dockerfile.podman"), str(ctx)]
        cold = {"hostprep-runtime": [], "podman": []}
        cached = {"hostprep-runtime": [], "podman": []}
        for _ in range(0 if opts.registry_only else opts.n):
            cold["hostprep-runtime"].append(timed(ours_build + ["--no-cache"], env))
            cold["podman"].append(timed(podman_build[:2] + ["--no-cache"] + podman_build[2:]))
            cached["hostprep-runtime"].append(timed(ours_build, env))
            cached["podman"].append(timed(podman_build))
        load = os.getloadavg()[0]
        if not opts.registry_only:
            print(f"multi-stage build, n={opts.n}, load average {load:.1f}")
        for title, table in (() if opts.registry_only else (("cold (--no-cache)", cold), ("cached rebuild", cached))):
            ratio = statistics.median(table["hostprep-runtime"]) / statistics.median(table["podman"])
            print(f"  {title}:")
            for tool, samples in table.items():
                print(f"    {tool:18} {stats(samples)}")
            print(f"    ratio {ratio:.2f}")
        if opts.registry or opts.registry_only:
            transfer(base, ours, env, opts.n, podman_names, opts.gzip)
    finally:
        if podman_names:
            subprocess.run(["podman", "rmi", "-f", *podman_names], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
    return 0


def transfer(base: Path, ours: list[str], env: dict, n: int, podman_names: list[str], gzip_too: bool = False) -> None:
    reg = Registry(base / "registry", tls=False, auth=False)
    print(f"registry transfers: load average at the start {' '.join(f'{x:.1f}' for x in os.getloadavg())}",
          flush=True)
    try:
        ctx = base / "big"
        ctx.mkdir()
        with open(ctx / "blob", "wb") as handle:
            for _ in range(100):
                handle.write(os.urandom(1 << 20))
        (ctx / "Dockerfile").write_text("FROM scratch\nCOPY blob /blob\n")
        timed(ours + ["build", "-t", "big", str(ctx)], env)
        ptag = f"localhost/bench-build-{os.getpid()}-big"
        podman_names.append(ptag)
        timed(["podman", "build", "-t", ptag, str(ctx)])
        push = {"hostprep-runtime": [], "skopeo": []}
        pull = {"hostprep-runtime": [], "skopeo": []}
        pull_cpu = {"hostprep-runtime": [], "skopeo": []}
        gz = {"hostprep-runtime": [], "skopeo": []}
        gz_cpu = {"hostprep-runtime": [], "skopeo": []}
        for i in range(n):  # a fresh repository each time: the first sends every blob, the later ones mount them
            t = timed(ours + ["push", "--plain-http", "big", f"{reg.host}/fresh-ours{i}/x:1"], env)
            push["hostprep-runtime"].append(t)
            t = timed(["skopeo", "copy", "--dest-tls-verify=false", f"containers-storage:{ptag}",
                       f"docker://{reg.host}/fresh-skopeo{i}/x:1"])
            push["skopeo"].append(t)
            if i == 0:  # the same image with its layer gzipped by skopeo (Go's gzip), for the gzip pull; only after
                # the first pushes, or skopeo's blob-info cache would make its first push a mount of this blob
                timed(["skopeo", "copy", "--dest-compress", "--dest-tls-verify=false", f"containers-storage:{ptag}",
                       f"docker://{reg.host}/gz/x:1"])
            pull_env = dict(env, HOSTPREP_RUNTIME_ROOT=str(base / f"pull-state-{i}"))
            pull["hostprep-runtime"].append(timed(ours + ["pull", "--plain-http", f"{reg.host}/fresh-ours{i}/x:1"],
                                                  pull_env, pull_cpu["hostprep-runtime"]))
            shutil.rmtree(base / f"pull-state-{i}", ignore_errors=True)
            out = base / f"skopeo-oci-{i}"
            pull["skopeo"].append(timed(["skopeo", "copy", "--src-tls-verify=false",
                                         f"docker://{reg.host}/fresh-skopeo{i}/x:1", f"oci:{out}:x"],
                                        cpu=pull_cpu["skopeo"]))
            shutil.rmtree(out, ignore_errors=True)
            if gzip_too:
                gz["hostprep-runtime"].append(timed(ours + ["pull", "--plain-http", f"{reg.host}/gz/x:1"],
                                                    pull_env, gz_cpu["hostprep-runtime"]))
                shutil.rmtree(base / f"pull-state-{i}", ignore_errors=True)
                gz["skopeo"].append(timed(["skopeo", "copy", "--src-tls-verify=false", f"docker://{reg.host}/gz/x:1",
                                           f"oci:{out}:x"], cpu=gz_cpu["skopeo"]))
                shutil.rmtree(out, ignore_errors=True)
        print(f"100 MB image through a local registry, n={n}, load average {os.getloadavg()[0]:.1f}")
        first = {tool: samples[:1] for tool, samples in push.items()}  # every blob sent: nothing to mount yet
        later = {tool: samples[1:] or samples for tool, samples in push.items()}
        tables = [("push, the first (every blob sent; one sample)", first),
                  ("push to a new repository after the first (cross-repository mounts)", later), ("pull", pull),
                  ("pull, CPU seconds (user+sys; steadier than wall time on a loaded machine)", pull_cpu)]
        if gzip_too:
            tables += [("pull of the gzipped layer", gz), ("pull of the gzipped layer, CPU seconds", gz_cpu)]
        for title, table in tables:
            ratio = statistics.median(table["hostprep-runtime"]) / statistics.median(table["skopeo"])
            print(f"  {title}:")
            for tool, samples in table.items():
                print(f"    {tool:18} {stats(samples)}")
            print(f"    ratio {ratio:.2f}")
    finally:
        reg.stop()


if __name__ == "__main__":
    sys.exit(main())
