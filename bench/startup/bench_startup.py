"""Start-up figures: a no-op `hostprep apply` of a 12-task role on one host, beside pyinfra and ansible-playbook.

    .venv/bin/python bench/startup/bench_startup.py [--runs 7] [--tools hostprep,pyinfra,ansible] [--workdir DIR]

The host is a throwaway sshd on 127.0.0.1 (tests/integration/loopback_sshd.py; root, key auth, host key
checked). Each tool converges its own scratch directory with the same role (roles/noop12, or
pyinfra_noop12.py), must then report no change, and is timed over --runs no-op runs (wall clock of the
whole process, median and minimum). hostprep's sources are byte-compiled first (`compileall`), as
scripts/setup.sh leaves an install; `-X importtime` of one more run gives the seconds spent importing.
Run as root on a quiet machine; figures from a shared machine are noisy (say so when quoting them).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from tests.integration.loopback_sshd import LoopbackSshd, start_sshd  # noqa: E402

TARGET = 0.5  # seconds, issue 17 §4


def byte_compile() -> None:
    """What scripts/setup.sh does after the editable install: every module has its .pyc."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "hostprep")], check=True)


def clean_root_shell(work: Path) -> tuple[str, ...]:
    """sshd in a mount namespace where root's ~/.bashrc is empty, as on a fresh host.

    sshd runs every command through the login shell, and bash sources ~/.bashrc when started by sshd:
    this machine's root .bashrc runs `pyenv init` (about 0.3 s), which would be timed on every command of
    every tool. The bind mount exists only for this sshd and its sessions.
    """
    empty = work / "empty-bashrc"
    empty.write_text("")
    return ("unshare", "-m", "--propagation", "private", "sh", "-c",
            f'mount --bind "{empty}" "$HOME/.bashrc" 2>/dev/null; exec "$@"', "sh")


def write_files(work: Path, sshd: LoopbackSshd) -> None:
    common = (f"ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user=root "
              f"ansible_ssh_private_key_file={sshd.client_key} ansible_python_interpreter=/usr/bin/python3 "
              f"ansible_ssh_common_args='-o UserKnownHostsFile={sshd.known_hosts} -o StrictHostKeyChecking=yes'")
    (work / "hosts.ini").write_text(f"[all]\nlo {common}\n")
    (work / "ansible.cfg").write_text(f"""[defaults]
roles_path = {HERE / 'roles'}
host_key_checking = True
deprecation_warnings = False
retry_files_enabled = False
nocolor = True

[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=60s
""")
    data = {"ssh_hostname": "127.0.0.1", "ssh_port": sshd.port, "ssh_user": "root", "ssh_key": str(sshd.client_key),
            "ssh_known_hosts_file": str(sshd.known_hosts), "ssh_strict_host_key_checking": "yes",
            "noop_dir": str(work / "noop-pyinfra")}
    (work / "pyinfra_inv.py").write_text(f"hosts = [('lo', {data!r})]\n")


def command(tool: str, work: Path, control: Path) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ, NO_COLOR="1", TERM="dumb")
    if tool == "hostprep":
        return [str(BIN / "hostprep"), "apply", "-i", str(work / "hosts.ini"), str(HERE / "play.yml"), "--json",
                "-e", f"noop_dir={work / 'noop-hostprep'}"], env
    if tool == "ansible":
        env.update(ANSIBLE_CONFIG=str(work / "ansible.cfg"), ANSIBLE_HOME=str(work / "ansible-home"),
                   ANSIBLE_SSH_CONTROL_PATH_DIR=str(control), ANSIBLE_NOCOLOR="1")
        return [str(BIN / "ansible-playbook"), "-i", str(work / "hosts.ini"), str(HERE / "play.yml"),
                "-e", f"noop_dir={work / 'noop-ansible'}"], env
    if tool == "pyinfra":
        return [str(BIN / "pyinfra"), "-y", str(work / "pyinfra_inv.py"), str(HERE / "pyinfra_noop12.py")], env
    raise ValueError(tool)


def changes(tool: str, out: str) -> int:
    """How many changes the tool reported (a no-op run must report 0)."""
    if tool == "hostprep":
        summary = [json.loads(line) for line in out.splitlines() if line.startswith('{"event": "summary"')]
        if not summary:
            raise RuntimeError("hostprep printed no summary:\n" + out[-2000:])
        return sum(h["changed"] + h["failed"] + h["unreachable"] for h in summary[-1]["hosts"].values())
    if tool == "ansible":
        found = re.findall(r"changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", out)
        if not found:
            raise RuntimeError("ansible-playbook printed no recap:\n" + out[-2000:])
        return sum(int(x) for x in found[-1])
    # pyinfra's results table: "Grand total  <ops>  <success = changed>  <error>  <no change>" ("-" = 0)
    found = re.search(r"Grand total\s+\d+\s+(\S+)\s+(\S+)\s+\S+", out)
    if not found:
        raise RuntimeError("pyinfra printed no results table:\n" + out[-2000:])
    return sum(0 if x == "-" else int(x) for x in found.groups())


def run_once(tool: str, work: Path, extra_python: tuple[str, ...] = ()) -> tuple[float, float, str, str]:
    """One run: (wall seconds, CPU seconds of the tool's waited-for processes, stdout, stderr)."""
    control = Path(tempfile.mkdtemp(prefix="cp-", dir=work))  # ssh socket paths are short: keep it near
    cmd, env = command(tool, work, control)
    if extra_python:
        cmd = [sys.executable, *extra_python, *cmd]
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work, timeout=300)
    took = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    for sock in control.iterdir():  # Ansible's ControlPersist masters: ended, so every run connects afresh
        subprocess.run(["ssh", "-S", str(sock), "-O", "exit", "lo"], capture_output=True, timeout=10)
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} failed (rc={proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return took, cpu, proc.stdout, proc.stderr


def first_packet_seconds(work: Path, runs: int) -> float:
    """Median seconds from spawning `hostprep apply` to its first connect() (first_packet.py)."""
    out = work / "first-packet"
    cmd, env = command("hostprep", work, work)
    times = []
    for _ in range(runs):
        env.update(HOSTPREP_BENCH_OUT=str(out), HOSTPREP_BENCH_T0=repr(time.time()))
        subprocess.run([sys.executable, str(HERE / "first_packet.py"), *cmd[1:]], capture_output=True, env=env,
                       cwd=work, timeout=300, check=True)
        times.append(float(out.read_text()))
    return statistics.median(times)


def import_seconds(work: Path) -> float:
    """Seconds hostprep spends importing modules in one no-op run (`python -X importtime`, top level only)."""
    _, _, _, err = run_once("hostprep", work, ("-X", "importtime"))
    total = 0
    for line in err.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| ( *)\S", line)
        if m and m.group(2) == "":
            total += int(m.group(1))
    return total / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tools", default="hostprep,pyinfra,ansible")
    parser.add_argument("--workdir", type=Path)
    opts = parser.parse_args()
    tools = [t.strip() for t in opts.tools.split(",") if t.strip()]
    if os.geteuid() != 0:
        parser.error("run as root (sshd on loopback logs in as root)")
    work = opts.workdir or Path(tempfile.mkdtemp(prefix="hp-startup-"))
    work.mkdir(parents=True, exist_ok=True)
    byte_compile()
    sshd = start_sshd(work / "sshd", wrapper=clean_root_shell(work))
    figures: dict[str, dict[str, float]] = {}
    try:
        write_files(work, sshd)
        for tool in tools:
            run_once(tool, work)  # converge
            _, _, out, err = run_once(tool, work)
            out += err  # pyinfra writes its results table to stderr
            if changes(tool, out) != 0:
                raise RuntimeError(f"{tool}: the second run was not a no-op:\n{out[-3000:]}")
            load = os.getloadavg()
            runs = [run_once(tool, work)[:2] for _ in range(opts.runs)]
            times, cpus = [r[0] for r in runs], [r[1] for r in runs]
            figures[tool] = {"median": statistics.median(times), "min": min(times), "max": max(times),
                             "cpu": statistics.median(cpus), "cpu_min": min(cpus),
                             "load": (load[0], os.getloadavg()[0])}
            print(f"{tool:9} no-op: median {figures[tool]['median']:.3f} s  min {figures[tool]['min']:.3f} s  "
                  f"max {figures[tool]['max']:.3f} s  cpu {figures[tool]['cpu']:.3f} s (min "
                  f"{figures[tool]['cpu_min']:.3f})  ({opts.runs} runs, load average {load[0]:.1f} before, "
                  f"{figures[tool]['load'][1]:.1f} after)", flush=True)
        if "hostprep" in figures:
            print(f"hostprep imports: {import_seconds(work):.3f} s of one run (python -X importtime)")
            print(f"hostprep before its first packet: {first_packet_seconds(work, opts.runs):.3f} s "
                  f"(median of {opts.runs}: spawn to first connect())")
    finally:
        sshd.stop()
        if not opts.workdir:
            shutil.rmtree(work, ignore_errors=True)
    if "hostprep" in figures:
        base = figures["hostprep"]["median"]
        cpu = figures["hostprep"]["cpu"]
        print("\nmedian wall and CPU, ratios to hostprep:")
        for tool, f in figures.items():
            print(f"  {tool:9} {f['median']:.3f} s  {f['median'] / base:5.1f}x   cpu {f['cpu']:.3f} s  "
                  f"{f['cpu'] / cpu:5.1f}x")
        ok = base <= TARGET
        print(f"target: hostprep no-op <= {TARGET} s: {'met' if ok else 'NOT met'} ({base:.3f} s wall, "
              f"{cpu:.3f} s CPU; load average {figures['hostprep']['load'][0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
