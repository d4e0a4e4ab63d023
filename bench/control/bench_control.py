"""Control-node CPU of a first apply and a no-op on N hosts, hostprep beside pyinfra (and ansible-playbook).

    .venv/bin/python bench/control/bench_control.py [--hosts 50] [--tools hostprep,pyinfra] [--runs 1]
        [--profile FILE]   # hostprep's first apply under py-spy (needs py-spy on PATH), raw samples to FILE

All N inventory hosts are one throwaway sshd on 127.0.0.1 (tests/integration/loopback_sshd.py), each with
its own scratch directory, so the hosts' own work is a few shell commands per task and the figure that
matters is the tool's CPU (user + system of the tool's process tree, getrusage of the children): the
control node's share of a run, which bench/fleet can only measure beside 50 lab hosts installing Docker.
The play is bench/startup's 12-task role (file, copy, template, lineinfile, blockinfile, replace, link);
on a first apply every task changes on every host. Run as root; the machine's load is printed with
each figure (wall times are only meaningful on a quiet machine, CPU times much less affected).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STARTUP = ROOT / "bench" / "startup"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(STARTUP))

from bench_startup import byte_compile, changes, clean_root_shell  # noqa: E402

from tests.integration.loopback_sshd import LoopbackSshd, start_sshd  # noqa: E402


def write_files(work: Path, sshd: LoopbackSshd, hosts: int, run: str) -> None:
    common = (f"ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user=root "
              f"ansible_ssh_private_key_file={sshd.client_key} ansible_python_interpreter=/usr/bin/python3 "
              f"ansible_ssh_common_args='-o UserKnownHostsFile={sshd.known_hosts} -o StrictHostKeyChecking=yes'")
    lines = [f"h{i:03d} {common} noop_dir={work / run / 'hostprep' / f'h{i:03d}'}" for i in range(hosts)]
    (work / "hosts.ini").write_text("[all]\n" + "\n".join(lines) + "\n")
    pyinv = []
    for i in range(hosts):
        data = {"ssh_hostname": "127.0.0.1", "ssh_port": sshd.port, "ssh_user": "root",
                "ssh_key": str(sshd.client_key), "ssh_known_hosts_file": str(sshd.known_hosts),
                "ssh_strict_host_key_checking": "yes", "noop_dir": str(work / run / "pyinfra" / f"h{i:03d}")}
        pyinv.append(f"('h{i:03d}', {data!r})")
    (work / "pyinfra_inv.py").write_text("hosts = [\n" + ",\n".join(pyinv) + "]\n")


def command(tool: str, work: Path, hosts: int) -> list[str]:
    if tool == "hostprep":
        return [str(BIN / "hostprep"), "apply", "-i", str(work / "hosts.ini"), str(STARTUP / "play.yml"), "--json",
                "--forks", str(hosts)]
    if tool == "pyinfra":
        return [str(BIN / "pyinfra"), "-y", "--parallel", str(hosts), str(work / "pyinfra_inv.py"),
                str(STARTUP / "pyinfra_noop12.py")]
    raise ValueError(tool)


def load() -> float:
    return os.getloadavg()[0]


def run(tool: str, work: Path, hosts: int, profile: Path | None = None) -> dict:
    cmd = command(tool, work, hosts)
    if profile is not None:
        cmd = ["py-spy", "record", "-r", "200", "-f", "raw", "-o", str(profile), "--", sys.executable, *cmd]
    env = dict(os.environ, NO_COLOR="1", TERM="dumb")
    before = load()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work, timeout=1800)
    took = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} failed (rc={proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    out = proc.stdout + proc.stderr
    return {"seconds": took, "cpu": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
            "load_before": before, "changes": changes(tool, out), "stdout": proc.stdout}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--tools", default="hostprep,pyinfra")
    parser.add_argument("--runs", type=int, default=1, help="first apply + no-op pairs per tool")
    parser.add_argument("--profile", type=Path, help="record hostprep's first apply with py-spy into this file")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--out", type=Path)
    opts = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run as root (sshd on loopback logs in as root)")
    tools = [t.strip() for t in opts.tools.split(",") if t.strip()]
    work = opts.workdir or Path(tempfile.mkdtemp(prefix="hp-control-"))
    work.mkdir(parents=True, exist_ok=True)
    byte_compile()
    # MaxStartups: N hosts connect at once to the same sshd
    sshd = start_sshd(work / "sshd", wrapper=clean_root_shell(work),
                      extra_config=(f"MaxStartups {opts.hosts * 2}", "MaxSessions 100"))
    rows = []
    try:
        for n in range(opts.runs):
            for tool in tools:
                write_files(work, sshd, opts.hosts, f"run{n}")
                first = run(tool, work, opts.hosts, opts.profile if tool == "hostprep" and n == 0 else None)
                noop = run(tool, work, opts.hosts)
                if noop["changes"] != 0:
                    raise RuntimeError(f"{tool}: the re-run changed something:\n{noop['stdout'][-3000:]}")
                for kind, fig in (("first", first), ("no-op", noop)):
                    fig.pop("stdout")
                    rows.append({"tool": tool, "run": kind, "hosts": opts.hosts, **fig})
                    print(f"{tool:9} {kind:6} N={opts.hosts}: {fig['seconds']:7.2f} s wall  {fig['cpu']:6.2f} s CPU"
                          f"  ({fig['cpu'] / opts.hosts * 1000:.0f} ms CPU/host, changes {fig['changes']},"
                          f" load before {fig['load_before']:.1f})", flush=True)
    finally:
        sshd.stop()
        if not opts.workdir:
            shutil.rmtree(work, ignore_errors=True)
    if opts.out:
        opts.out.write_text(json.dumps(rows, indent=1) + "\n")
    by = {(r["tool"], r["run"]): r for r in rows}
    for kind in ("first", "no-op"):
        hp, py = by.get(("hostprep", kind)), by.get(("pyinfra", kind))
        if hp and py:
            print(f"{kind}: CPU hostprep/pyinfra = {hp['cpu'] / py['cpu']:.2f} (target <= 1.0 for a first apply)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
