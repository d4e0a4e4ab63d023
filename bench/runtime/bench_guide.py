"""The guide's PostgreSQL Dockerfile (examples/postgresql) built by hostprep-runtime and by `podman build` on the
same context, from the same base, in the same run (issue 13 §4).

`sudo .venv/bin/python bench/runtime/bench_guide.py -n 1`:

- the base is the lab's centos:7 (the EL7 lab image tree as one layer tar, `hostprep.lab.baseimage.layer_tar`),
  imported into a throwaway runtime root as `centos:7` and into podman as `localhost/bench-guide-PID-centos:7`
  (podman's Dockerfile differs in that FROM line only);
- the lab repository is served on the lab bridge, and both build with `--network host` (yum in the RUN steps
  reaches it);
- interleaved, n times: a cold build (`--no-cache`) by the runtime's zipapp, one by podman, then a fully cached
  rebuild by each.

It prints wall seconds (median, p90), CPU seconds (user+sys of the command and the children it waited for:
podman's runc and the RUN steps, the runtime's containers) and the ratios, with the load average before and
after. Targets (issue 13): cold build within 1.2x of podman's, cached rebuild <= 0.5 s and faster than podman's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE.parent))

from bench_build import stats, timed  # noqa: E402

EXAMPLE = ROOT / "examples" / "postgresql"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=1)
    opts = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    from hostprep.lab import baseimage, network, paths
    from hostprep.lab.repo import ensure_served
    from hostprep.runtime import build as zipbuild

    tar = baseimage.layer_tar("el7")
    network.ensure_bridge()
    ensure_served(paths.BRIDGE_ADDRESS, paths.REPO_PORT)
    base = Path(tempfile.mkdtemp(prefix="bench-guide-"))
    pbase = f"localhost/bench-guide-{os.getpid()}-centos:7"
    ptag = f"localhost/bench-guide-{os.getpid()}-pg:guide"
    podman_names = []
    try:
        pyz = zipbuild.build(str(base / "hostprep-runtime.pyz"), sys.executable)
        env = dict(os.environ, HOSTPREP_RUNTIME_ROOT=str(base / "state"))
        ours = [pyz]
        print(f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
        t_import = timed(ours + ["import", "--cmd", "/bin/bash", str(tar), "centos:7"], env)
        podman_names.append(pbase)
        t_pimport = timed(["podman", "import", "--change", "CMD=/bin/bash", str(tar), pbase])
        print(f"base import ({tar.stat().st_size / 1e6:.0f} MB tar): hostprep-runtime {t_import:.1f} s, "
              f"podman {t_pimport:.1f} s", flush=True)
        ctx = base / "ctx"
        shutil.copytree(EXAMPLE, ctx)
        dockerfile = (ctx / "Dockerfile").read_text()
        assert "\nFROM centos:7\n" in dockerfile
        (ctx / "Dockerfile.podman").write_text(dockerfile.replace("\nFROM centos:7\n", f"\nFROM {pbase}\n"))
        podman_names.append(ptag)
        ours_build = ours + ["build", "--network", "host", "-t", "pg:guide", str(ctx)]
        podman_build = ["podman", "build", "--network", "host", "-t", ptag, "-f", str(ctx / "Dockerfile.podman"),
                        str(ctx)]
        wall = {k: {"hostprep-runtime": [], "podman": []} for k in ("cold", "cached")}
        cpu = {k: {"hostprep-runtime": [], "podman": []} for k in ("cold", "cached")}
        for _ in range(opts.n):
            wall["cold"]["hostprep-runtime"].append(timed(ours_build + ["--no-cache"], env,
                                                          cpu["cold"]["hostprep-runtime"]))
            wall["cold"]["podman"].append(timed(podman_build[:2] + ["--no-cache"] + podman_build[2:],
                                                cpu=cpu["cold"]["podman"]))
            wall["cached"]["hostprep-runtime"].append(timed(ours_build, env, cpu["cached"]["hostprep-runtime"]))
            wall["cached"]["podman"].append(timed(podman_build, cpu=cpu["cached"]["podman"]))
        print(f"the guide's PostgreSQL Dockerfile, n={opts.n}, load average at the end: "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        for kind in ("cold", "cached"):
            print(f"  {kind} ({'--no-cache' if kind == 'cold' else 'every step from the cache'}):")
            for tool in ("hostprep-runtime", "podman"):
                print(f"    {tool:18} wall {stats(wall[kind][tool])}   CPU {stats(cpu[kind][tool])}")
            w = statistics.median(wall[kind]["hostprep-runtime"]) / statistics.median(wall[kind]["podman"])
            c = statistics.median(cpu[kind]["hostprep-runtime"]) / statistics.median(cpu[kind]["podman"])
            print(f"    ratio wall {w:.2f}  CPU {c:.2f}")
    finally:
        if podman_names:
            subprocess.run(["podman", "rmi", "-f", *podman_names], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
