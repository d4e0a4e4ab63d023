"""No-op re-run, this tree against an earlier commit, on the same lab hosts, alternating: is it unchanged or better?

    .venv/bin/python bench/fleet/bench_noop_ab.py --ref 4019132^ [--hosts 1,10] [--rounds 6]

A no-op figure taken in one bench run and compared with one taken hours earlier compares machines as much as
code: the control node's CPU speed and the lab's load drift (the same commit's no-op on one host measured 0.9 s
in one session and 1.2 s in another). So both trees run here, in turn, against the same hosts in the same
minutes: for each N, fresh hosts get a first apply of the docker role (this tree), each tree then one warm-up
no-op (its own fact cache) and `--rounds` measured no-ops in ABBA order (this, ref, ref, this, ...), and the
table prints the median and minimum wall seconds and CPU seconds of each, and this/ref.

The earlier commit is checked out with `git worktree` in a temporary directory and imported from there (the
same venv, the same roles/ of this tree: only the engine differs); both trees are byte-compiled first, as an
installed package is. Every measured run must exit 0 and report no change on any host.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_fleet import ROLE_VARS, judge_hostprep, measured_run, wait_settled, write_playbook  # noqa: E402

from hostprep.lab.api import down, up, write_inventory  # noqa: E402

ROOT = HERE.parents[1]
SAMPLING = (1.0, 900.0)  # measured_run's memory sampling period and timeout (s): only time and CPU are used


def worktree(ref: str, where: Path) -> str:
    """Check out `ref` at `where` (detached); the commit's full id."""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", ref + "^{commit}"],
                            capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(where), commit],
                   capture_output=True, text=True, check=True)
    return commit


def compile_tree(tree: Path) -> None:
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "hostprep")], check=True)


def command(tree: Path, inventory: Path, playbook: Path, n: int) -> list[str]:
    boot = f"import sys; sys.path.insert(0, {str(tree)!r}); from hostprep.cli.main import main; sys.exit(main())"
    return [sys.executable, "-c", boot, "apply", "-i", str(inventory), str(playbook), "--json", "--forks", str(n)]


def one_size(n: int, opts: argparse.Namespace, trees: dict[str, Path], work: Path) -> list[dict[str, Any]]:
    prefix = f"{opts.prefix}{n}"
    hosts = up(n, opts.flavor, prefix, timeout=300)
    rows: list[dict[str, Any]] = []
    try:
        wait_settled(hosts)
        inv = write_inventory(hosts, work / "inventory.yml", group="bench")
        book = write_playbook(work, opts.role, opts.flavor, "hostprep")
        base = dict(os.environ, ANSIBLE_ROLES_PATH=str(ROOT / "roles"), NO_COLOR="1", TERM="dumb")
        envs = {name: dict(base, HOSTPREP_FACT_CACHE=str(work / f"fact-cache-{name}")) for name in trees}
        first = measured_run(command(trees["this"], inv, book, n), envs["this"], work / "first.log", *SAMPLING)
        if first["rc"] != 0:
            raise SystemExit(f"first apply on {n} host(s) failed (rc {first['rc']}): see {work / 'first.log'}")
        print(f"  N={n:<3} first apply (this tree) {first['seconds']:.1f} s", flush=True)
        for name, tree in trees.items():  # warm-up: each tree's own fact cache, not measured
            measured_run(command(tree, inv, book, n), envs[name], work / f"warm-{name}.log", *SAMPLING)
        order = ["this", "ref", "ref", "this"]
        for i in range(opts.rounds * 2):
            name = order[i % 4]
            time.sleep(opts.settle)
            load = os.getloadavg()[0]
            log = work / f"noop-{i:02d}-{name}.log"
            run = measured_run(command(trees[name], inv, book, n), envs[name], log, *SAMPLING)
            verdict = judge_hostprep(log.read_text(errors="replace"), n)
            ok = run["rc"] == 0 and verdict["ok"] and verdict.get("changed") == 0
            rows.append({"n": n, "tree": name, "round": i, "seconds": run["seconds"],
                         "cpu_seconds": run["cpu_seconds"], "rc": run["rc"], "ok": ok,
                         "changed": verdict.get("changed"), "loadavg_before": round(load, 2)})
            why = f"FAILED rc={run['rc']} changed={verdict.get('changed')} {verdict.get('why', '')}"
            print(f"  N={n:<3} {name:<4} {run['seconds']:6.2f} s  CPU {run['cpu_seconds']:5.2f} s  "
                  f"load {load:5.2f}  {'ok' if ok else why}", flush=True)
    finally:
        left = down(name=prefix)
        if left:
            print(f"  lab down {prefix}: left {left}", file=sys.stderr)
    return rows


def table(rows: list[dict[str, Any]]) -> list[str]:
    out = [f"{'N':>3}  {'tree':<5} {'runs':>4} {'median s':>9} {'min s':>7} {'CPU s':>6}  this/ref (median)"]
    for n in sorted({r["n"] for r in rows}):
        med: dict[str, float] = {}
        for name in ("this", "ref"):
            mine = [r for r in rows if r["n"] == n and r["tree"] == name and r["ok"]]
            if not mine:
                out.append(f"{n:>3}  {name:<5} no successful run")
                continue
            med[name] = statistics.median(r["seconds"] for r in mine)
            cpu = statistics.median(r["cpu_seconds"] for r in mine)
            ratio = f"{med['this'] / med['ref']:.2f}" if name == "ref" and "this" in med else ""
            out.append(f"{n:>3}  {name:<5} {len(mine):>4} {med[name]:>9.2f} {min(r['seconds'] for r in mine):>7.2f} "
                       f"{cpu:>6.2f}  {ratio}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", required=True, help="the earlier commit (any git revision)")
    parser.add_argument("--hosts", default="1,10", help="comma list of fleet sizes")
    parser.add_argument("--rounds", type=int, default=6, help="measured no-ops per tree and fleet size")
    parser.add_argument("--role", default="docker")
    parser.add_argument("--flavor", default="el9", choices=("el7", "el8", "el9"))
    parser.add_argument("--prefix", default="nab", help="lab host name prefix")
    parser.add_argument("--settle", type=float, default=2.0, help="pause before each measured run (s)")
    parser.add_argument("--out", type=Path, default=Path("bench-noop-ab-results.json"))
    opts = parser.parse_args()
    if opts.role not in ROLE_VARS:
        parser.error(f"no bench variables for role {opts.role!r}")
    tmp = Path(tempfile.mkdtemp(prefix="hostprep-noop-ab-"))
    ref_tree = tmp / "ref"
    rows: list[dict[str, Any]] = []
    try:
        commit = worktree(opts.ref, ref_tree)
        this = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "hostprep"],
                               capture_output=True, text=True, check=True).stdout.strip()
        trees = {"this": ROOT, "ref": ref_tree}
        for tree in trees.values():
            compile_tree(tree)
        print(f"this: {this[:12]}{' + uncommitted changes under hostprep/' if dirty else ''}   ref: {commit[:12]}",
              flush=True)
        for n in (int(x) for x in opts.hosts.split(",")):
            work = tmp / f"n{n}"
            work.mkdir()
            rows += one_size(n, opts, trees, work)
        lines = table(rows)
        print("\n".join(lines))
        opts.out.write_text(json.dumps({"this": this, "this_dirty": bool(dirty), "ref": commit,
                                        "ref_given": opts.ref, "role": opts.role, "flavor": opts.flavor,
                                        "cpu_count": os.cpu_count(), "rows": rows, "table": lines}, indent=1))
        print(f"results: {opts.out}")
        return 0 if rows and all(r["ok"] for r in rows) else 1
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(ref_tree)],
                       capture_output=True, text=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
