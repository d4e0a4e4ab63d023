"""Lab figures: `lab up -n 5` and `down` times with a cached image, memory per idle host, `up -n 50`.

Run as root: python bench/lab/bench_lab.py [--big 50]. Prints a table; targets from the lab issue are
shown beside each figure (up -n 5 <= 15 s, down <= 5 s, <= 30 MB per idle host, up -n 50 works).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hostprep.lab import paths
from hostprep.lab.api import down, up
from hostprep.lab.image import build_image


def host_memory_mb(name: str) -> float:
    """Memory charged to a host's own cgroup (v1 memory controller, or v2 memory.current)."""
    for base in (Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")):
        cg = base / paths.CGROUP_PARENT / name
        for knob in ("memory.usage_in_bytes", "memory.current"):
            if (cg / knob).exists():
                usage = int((cg / knob).read_text())
                stat = cg / "memory.stat"
                cache = 0
                if stat.exists():
                    fields = dict(line.split() for line in stat.read_text().splitlines())
                    cache = int(fields.get("total_cache", fields.get("file", 0)))
                return (usage - cache) / 2**20
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big", type=int, default=50)
    parser.add_argument("--flavor", default="el9")
    opts = parser.parse_args()
    build_image(opts.flavor)
    rows = []
    t0 = time.monotonic()
    hosts = up(5, opts.flavor, "bench5")
    t_up5 = time.monotonic() - t0
    time.sleep(5)  # let the hosts settle to idle
    mem = [host_memory_mb(h.name) for h in hosts]
    t0 = time.monotonic()
    left = down(name="bench5")
    t_down5 = time.monotonic() - t0
    rows += [("lab up -n 5 (cached image)", f"{t_up5:.1f} s", "<= 15 s", t_up5 <= 15),
             ("lab down (5 hosts)", f"{t_down5:.2f} s", "<= 5 s", t_down5 <= 5 and not left),
             ("memory per idle host (cgroup, no page cache)", f"{max(mem):.1f} MB max, {sum(mem) / len(mem):.1f} avg",
              "<= 30 MB", max(mem) <= 30)]
    t0 = time.monotonic()
    try:
        big = up(opts.big, opts.flavor, "benchbig", timeout=300)
        t_big = time.monotonic() - t0
        ok = len(big) == opts.big
    finally:
        t0 = time.monotonic()
        left = down(name="benchbig")
        t_big_down = time.monotonic() - t0
    rows += [(f"lab up -n {opts.big}", f"{t_big:.1f} s", "works", ok),
             (f"lab down ({opts.big} hosts)", f"{t_big_down:.1f} s", "nothing left", not left)]
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'measured':<28} {'target':<14} ok")
    for name, value, target, good in rows:
        print(f"{name:<{width}}  {value:<28} {target:<14} {'yes' if good else 'NO'}")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
