"""Fleet figures: one role applied by hostprep, ansible-playbook and pyinfra to N lab hosts (first apply and
no-op re-run), wall seconds, ratios against hostprep and peak control-node memory, all in one run.

Run as root with the project venv:
    .venv/bin/python bench/fleet/bench_fleet.py --hosts 1,10,50 [--tools hostprep,ansible,pyinfra]
        [--flavor el7|el8|el9] [--role docker] [--out results.json]

For each N and each tool, in that order, the bench boots N FRESH lab hosts (prefix `bf<N><h|a|p>`), waits
until their systemd says running, applies the role once (first apply), applies it again (no-op re-run,
which must change nothing) and takes the hosts down (in a `finally`). Each tool runs alone on the machine's
bench workload, with no SSH connection left from an earlier run (see bench/README.md, "bench/fleet").

Memory: the tool runs under a small subreaper (so SSH ControlPersist masters that detach stay in its tree);
a sampler thread scans /proc every --interval seconds and sums PSS (and RSS) over the tool's whole process
tree; the peak of that sum is the tool's control-node memory. getrusage(RUSAGE_CHILDREN) of the subreaper
(the largest single process) is recorded as well.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from hostprep.lab import paths
from hostprep.lab.api import LabHost, down, up, write_inventory
from hostprep.lab.image import build_image

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
TOOLS = ("hostprep", "ansible", "pyinfra", "raw")
FLAVORS = ("el7", "el8", "el9")
# ansible-core 2.17+ cannot manage EL7's Python 2.7 or EL8's platform-python 3.6; 2.16, the last that can,
# lives in its own venv (ci/prep.d/40-ansible-216.sh), as tests/integration/ansible_versions.py picks it.
ANSIBLE_216 = Path("/var/cache/hostprep/ansible-2.16/bin")
PHASES = ("first", "no-op")

# Variables the bench gives the role, so that every step of it does work on a fresh host (daemon.json, its
# restart handler, a user added to the docker group); the lab's own variables come from the lab inventory.
ROLE_VARS: dict[str, dict[str, Any]] = {
    "docker": {
        "docker_users": ["deploy"],
        "docker_daemon_config": {"log-driver": "journald", "live-restore": True},
    },
}

# Runs the tool as its child, as a subreaper: processes the tool leaves behind (ssh ControlPersist masters)
# are re-parented here instead of to PID 1, so they count in the tool's tree and are ended (by their ids)
# when the tool has exited. Writes the start and end (CLOCK_MONOTONIC) of the tool, the max RSS of the
# largest process and the CPU seconds of the whole tree (getrusage RUSAGE_CHILDREN) to the file in argv[1].
SUBREAPER = r"""
import ctypes, json, os, resource, signal, sys, time
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
def descendants(root):
    kids = {}
    for d in os.listdir('/proc'):
        if d.isdigit():
            try:
                with open(f'/proc/{d}/stat') as f:
                    ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c); todo.append(c)
    return out
start = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
for s in (signal.SIGTERM, signal.SIGINT):
    signal.signal(s, lambda n, f: os.kill(pid, n))
code, end = 1, None
while True:
    try:
        got, status = os.waitpid(-1, 0)
    except ChildProcessError:
        break
    if got == pid:
        end = time.monotonic()
        code = os.waitstatus_to_exitcode(status)
        for p in descendants(os.getpid()):
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], 'w') as f:
    json.dump({'start': start, 'end': end, 'rc': code, 'maxrss_kb': ru.ru_maxrss,
               'cpu': ru.ru_utime + ru.ru_stime}, f)
sys.exit(code if code >= 0 else 128 - code)
"""


class TreeSampler(threading.Thread):
    """Peak of the summed PSS and RSS (bytes) of every process below `root` (root itself excluded)."""

    def __init__(self, root: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak_pss = self.peak_rss = self.peak_procs = self.samples = 0
        self.stop = threading.Event()

    def tree(self) -> list[int]:
        kids: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    with open(f"/proc/{entry.name}/stat", "rb") as handle:
                        ppid = int(handle.read().rsplit(b")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                kids.setdefault(ppid, []).append(int(entry.name))
        out, todo = [], [self.root]
        while todo:
            for child in kids.get(todo.pop(), []):
                out.append(child)
                todo.append(child)
        return out

    def sample(self) -> None:
        pss = rss = 0
        procs = self.tree()
        for pid in procs:
            try:
                with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
                    for line in handle:
                        if line.startswith(b"Rss:"):
                            rss += int(line.split()[1]) * 1024
                        elif line.startswith(b"Pss:"):
                            pss += int(line.split()[1]) * 1024
                            break
            except (OSError, ValueError):
                continue
        self.samples += 1
        self.peak_pss, self.peak_rss = max(self.peak_pss, pss), max(self.peak_rss, rss)
        self.peak_procs = max(self.peak_procs, len(procs))

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)


def measured_run(cmd: list[str], env: dict[str, str], log: Path, interval: float,
                 timeout: float) -> dict[str, Any]:
    """Run `cmd` under the subreaper with its output in `log`; wall seconds, exit code and peak memory."""
    times = log.with_suffix(".times.json")
    with open(log, "w") as out:
        out.write("$ " + shlex.join(cmd) + "\n")
        out.flush()
        proc = subprocess.Popen([sys.executable, "-c", SUBREAPER, str(times), *cmd], stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
        sampler = TreeSampler(proc.pid, interval)
        sampler.start()
        try:
            proc.wait(timeout=timeout)
        except BaseException:
            os.killpg(proc.pid, signal.SIGTERM)  # the session this bench started for the tool
            proc.wait(timeout=30)
            raise
        finally:
            sampler.stop.set()
            sampler.join()
    info = json.loads(times.read_text())
    return {"seconds": round(info["end"] - info["start"], 3), "rc": info["rc"],
            "peak_pss_mb": round(sampler.peak_pss / 2**20, 1), "peak_rss_mb": round(sampler.peak_rss / 2**20, 1),
            "max_single_rss_mb": round(info["maxrss_kb"] / 1024, 1), "cpu_seconds": round(info["cpu"], 2),
            "peak_processes": sampler.peak_procs,
            "memory_samples": sampler.samples, "log": str(log)}


# --- what each tool is given --------------------------------------------------------------------------


def write_playbook(work: Path, role: str, flavor: str, tool: str) -> Path:
    play: dict[str, Any] = {"name": f"bench/fleet: role {role}", "hosts": "all", "become": True,
                            "roles": [{"role": role, "vars": ROLE_VARS[role]} if ROLE_VARS.get(role) else role]}
    if tool == "ansible" and flavor == "el7":
        # the lab's deviation (hostprep/lab/README.md): EL7's yum is dnf, so Ansible's yum module cannot use
        # its yum 3 backend (Python 2 `import yum`) there; the twin tests pass the same setting
        play["module_defaults"] = {"ansible.builtin.yum": {"use_backend": "yum4"}}
    path = work / f"playbook-{tool}.yml"
    path.write_text("---\n" + yaml.safe_dump([play], sort_keys=False))
    return path


def ansible_bin(flavor: str) -> Path:
    """The bin directory of the ansible-core that manages `flavor`'s system Python (fails loudly if absent)."""
    if flavor == "el9":
        return BIN
    if not (ANSIBLE_216 / "ansible-playbook").exists():
        raise SystemExit(f"{ANSIBLE_216}/ansible-playbook is missing: run ci/prep.d/40-ansible-216.sh")
    return ANSIBLE_216


def ansible_version(flavor: str) -> str:
    out = subprocess.run([str(ansible_bin(flavor) / "ansible-playbook"), "--version"], capture_output=True,
                         text=True).stdout
    found = re.search(r"\[core ([^\]]+)\]", out)
    return found.group(1) if found else "?"


def write_ansible_cfg(work: Path, forks: int, control_dir: Path, flavor: str) -> Path:
    # EL9: the interpreter roles/runtime links to; EL7/EL8: discovery finds the system Python
    # (/usr/bin/python 2.7, /usr/libexec/platform-python 3.6), as in the twin tests
    interpreter = "/usr/bin/python3" if flavor == "el9" else "auto_silent"
    cfg = work / "ansible.cfg"
    cfg.write_text(f"""[defaults]
roles_path = {ROOT / 'roles'}
forks = {forks}
host_key_checking = True
interpreter_python = {interpreter}
deprecation_warnings = False
retry_files_enabled = False
nocolor = True

[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile={paths.KNOWN_HOSTS} \
-o StrictHostKeyChecking=yes
control_path_dir = {control_dir}
""")
    return cfg


def pyinfra_inventory(lab_inventory: Path, out: Path, extra: dict[str, Any]) -> Path:
    """A pyinfra inventory (Python) from the lab's Ansible YAML inventory: connection variables mapped to
    pyinfra's ssh_* data, every other variable passed on as host data."""
    data = yaml.safe_load(lab_inventory.read_text())["all"]
    common = dict(data.get("vars") or {})
    hosts: dict[str, dict[str, Any]] = {}

    def walk(group: dict[str, Any]) -> None:
        for name, hv in (group.get("hosts") or {}).items():
            hosts.setdefault(name, {}).update(hv or {})
        for child in (group.get("children") or {}).values():
            walk(child or {})

    walk(data)
    entries = []
    for name, hv in hosts.items():
        hv = {**common, **extra, **hv}
        args = hv.pop("ansible_ssh_common_args", "")
        known = re.search(r"UserKnownHostsFile=(\S+)", args)
        strict = re.search(r"StrictHostKeyChecking=(\S+)", args)
        conn = {"ssh_hostname": hv.pop("ansible_host", name), "ssh_port": int(hv.pop("ansible_port", 22)),
                "ssh_user": hv.pop("ansible_user", "root"), "ssh_key": hv.pop("ansible_ssh_private_key_file", None),
                "ssh_known_hosts_file": known.group(1) if known else None,
                "ssh_strict_host_key_checking": strict.group(1) if strict else "yes"}
        entries.append((name, {**hv, **{k: v for k, v in conn.items() if v is not None}}))
    out.write_text("# written by bench/fleet/bench_fleet.py from " + str(lab_inventory) + "\n"
                   f"lab = {entries!r}\n")
    return out


def command_for(tool: str, n: int, work: Path, flavor: str, role: str,
                extra: list[str]) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(ROOT / "roles"), NO_COLOR="1", TERM="dumb")
    inv = work / "inventory.yml"
    if tool == "hostprep":
        # the fast path's fact cache (last run's facts, by host name and address) in the tool's own work dir: a
        # fresh host that reuses a name of an earlier bench run must not start with that run's facts
        env["HOSTPREP_FACT_CACHE"] = str(work / "fact-cache")
        return [str(BIN / "hostprep"), "apply", "-i", str(inv), str(work / "playbook-hostprep.yml"), "--json",
                "--forks", str(max(n, 1)), *extra], env
    if tool == "ansible":
        control = Path(tempfile.mkdtemp(prefix="cp-", dir=work))  # short: ssh's socket paths are limited
        env.update(ANSIBLE_CONFIG=str(write_ansible_cfg(work, max(n, 5), control, flavor)),
                   ANSIBLE_HOME=str(work / "ansible-home"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        return [str(ansible_bin(flavor) / "ansible-playbook"), "-i", str(inv), str(work / "playbook-ansible.yml")], env
    if tool == "pyinfra":
        return [str(BIN / "pyinfra"), "-y", "--sudo", "--parallel", str(max(n, 1)), str(work / "pyinfra_inv.py"),
                str(HERE / f"pyinfra_{role}.py")], env
    if tool == "raw":  # the floor: the role's steps as one shell script per host, one SSH session each
        return [sys.executable, str(HERE / f"raw_{role}.py"), str(inv), "--vars", json.dumps(ROLE_VARS.get(role, {})),
                "--role-dir", str(ROOT / "roles" / role)], env
    raise ValueError(tool)


# --- what each tool said ----------------------------------------------------------------------------


def judge_hostprep(text: str, n: int) -> dict[str, Any]:
    summary = None
    for line in text.splitlines():
        if line.startswith("{") and '"event": "summary"' in line:
            summary = json.loads(line)["hosts"]
    if not summary:
        return {"ok": False, "why": "no --json summary"}
    bad = [h for h, s in summary.items() if s.get("failed") or s.get("unreachable")]
    rts = [s.get("round_trips", 0) for s in summary.values()]
    secs = [s.get("seconds", 0.0) for s in summary.values()]
    return {"ok": not bad and len(summary) == n, "why": f"failed/unreachable: {bad}" if bad else "",
            "changed": sum(s.get("changed", 0) for s in summary.values()),
            "round_trips_per_host": {"mean": round(sum(rts) / len(rts), 1), "min": min(rts), "max": max(rts)},
            "host_seconds": {"mean": round(sum(secs) / len(secs), 2), "max": round(max(secs), 2)}}


RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def judge_ansible(text: str, n: int) -> dict[str, Any]:
    recap = RECAP.findall(text.split("PLAY RECAP", 1)[-1]) if "PLAY RECAP" in text else []
    bad = [r[0] for r in recap if int(r[3]) or int(r[4])]
    return {"ok": len(recap) == n and not bad, "why": f"failed/unreachable: {bad}" if bad else
            ("" if len(recap) == n else f"{len(recap)} hosts in PLAY RECAP"),
            "changed": sum(int(r[2]) for r in recap)}


PYINFRA_ROW = re.compile(r"^\s{4}(\S.*?)\s+(\d+)\s+(\d+|-)\s+(\d+|-)\s+(\d+|-)\s*$", re.M)


def judge_pyinfra(text: str, n: int) -> dict[str, Any]:
    rows = PYINFRA_ROW.findall(text.split("--> Results:", 1)[-1]) if "--> Results:" in text else []
    ops = [r for r in rows if r[0] != "Grand total"]
    num = lambda s: 0 if s == "-" else int(s)  # noqa: E731
    errors = sum(num(r[3]) for r in ops)
    # the closing checks are shell commands, which pyinfra always counts as a change
    changed = sum(num(r[2]) for r in ops if not r[0].startswith("Check "))
    return {"ok": bool(ops) and not errors and all(int(r[1]) == n for r in ops),
            "why": "" if ops else "no results table", "errors": errors, "changed": changed}


def judge_raw(text: str, n: int) -> dict[str, Any]:
    codes = re.findall(r"^\S+ \| RAW-RC=(\d+)$", text, re.M)
    bad = len([c for c in codes if c != "0"])
    return {"ok": len(codes) == n and not bad, "why": f"{bad} host(s) failed" if bad else
            ("" if len(codes) == n else f"{len(codes)} hosts answered")}


JUDGES = {"hostprep": judge_hostprep, "ansible": judge_ansible, "pyinfra": judge_pyinfra, "raw": judge_raw}
# raw is the first apply's floor (no checks, so no no-op run to speak of)
TOOL_PHASES = {"raw": ("first",)}


# --- lab hosts --------------------------------------------------------------------------------------


def ssh(host: LabHost, cmd: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", "-i", str(paths.KEY), "-o", f"UserKnownHostsFile={paths.KNOWN_HOSTS}",
                           "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", f"root@{host.address}", cmd],
                          capture_output=True, text=True, timeout=timeout)


def quiet_enough(max_load: float | None, wait: float) -> None:
    """Wait (at most `wait` seconds) until the 1-minute load average is at most `max_load`: every tool then
    starts on a machine as quiet as the others did (fresh hosts just booted, or a tool's run just ended, keep
    it at 20-60 for a minute or two at 50 hosts, and the first tool of a size started at three times the load
    of the next)."""
    if max_load is None:
        return
    deadline = time.monotonic() + wait
    while os.getloadavg()[0] > max_load and time.monotonic() < deadline:
        time.sleep(5)


def wait_settled(hosts: list[LabHost], timeout: float = 120) -> None:
    """Every host's systemd finished booting (running or degraded), so no boot work competes with the tool."""
    def one(h: LabHost) -> str:
        res = ssh(h, f"timeout {int(timeout)} systemctl is-system-running --wait", timeout=timeout + 10)
        return res.stdout.strip()

    with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
        states = list(pool.map(one, hosts))
    bad = [(h.name, s) for h, s in zip(hosts, states, strict=True) if s not in ("running", "degraded")]
    if bad:
        raise RuntimeError(f"lab hosts not booted: {bad[:5]}")
    degraded = [h.name for h, s in zip(hosts, states, strict=True) if s == "degraded"]
    if degraded:
        print(f"  note: degraded (booted, a unit failed): {degraded}", flush=True)


def git_state() -> str:
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "hostprep"],
                               capture_output=True, text=True).stdout.strip()
        return head + (" + uncommitted changes under hostprep/" if dirty else "")
    except OSError:
        return "?"


def bench_tool(tool: str, n: int, opts: argparse.Namespace, work_root: Path, results: list[dict]) -> None:
    prefix = f"{opts.prefix}{n}{tool[0]}"
    work = work_root / f"{tool}-{n}"
    work.mkdir(parents=True)
    try:
        t0 = time.monotonic()
        hosts = up(n, opts.flavor, prefix, timeout=300)
        wait_settled(hosts)
        boot = time.monotonic() - t0
        inv = write_inventory(hosts, work / "inventory.yml", group="bench")
        write_playbook(work, opts.role, opts.flavor, tool)
        if tool == "pyinfra":
            pyinfra_inventory(inv, work / "pyinfra_inv.py",
                              {"docker_role_dir": str(ROOT / "roles" / opts.role), **ROLE_VARS.get(opts.role, {})})
        first_ok = True
        shutil.rmtree(work / "fact-cache", ignore_errors=True)  # the first apply knows nothing of these hosts
        for phase in TOOL_PHASES.get(tool, PHASES):
            if not first_ok:
                results.append({"tool": tool, "n": n, "phase": phase, "ok": False, "why": "first apply failed"})
                continue
            time.sleep(opts.settle)
            quiet_enough(opts.max_load, opts.max_load_wait)
            cmd, env = command_for(tool, n, work, opts.flavor, opts.role, shlex.split(opts.hostprep_args))
            load = os.getloadavg()[0]
            run = measured_run(cmd, env, work / f"{phase}.log", opts.interval, opts.timeout)
            text = Path(run["log"]).read_text(errors="replace")
            verdict = JUDGES[tool](text, n)
            verdict["ok"] = verdict["ok"] and run["rc"] == 0
            if phase == "no-op" and verdict.get("changed"):
                verdict["why"] = (verdict.get("why", "") + f" changed {verdict['changed']} on a re-run").strip()
            row = {"tool": tool, "n": n, "phase": phase, **run, **verdict, "loadavg_before": round(load, 2),
                   "hostprep_git": git_state() if tool == "hostprep" else None,
                   "lab_prefix": prefix, "boot_seconds": round(boot, 1)}
            if not verdict["ok"]:
                row["tail"] = text[-3000:]
                if phase == "first":
                    first_ok = False
            results.append(row)
            print(f"  {tool:<9} N={n:<3} {phase:<6} {run['seconds']:8.1f} s  rc={run['rc']}  "
                  f"peak {run['peak_pss_mb']:.0f} MB PSS  {'ok' if verdict['ok'] else 'FAILED ' + row['why']}",
                  flush=True)
    finally:
        left = down(name=prefix)
        if left:
            print(f"  lab down {prefix}: left {left}", file=sys.stderr)


# --- the report -------------------------------------------------------------------------------------


def find(results: list[dict], tool: str, n: int, phase: str) -> dict | None:
    for r in results:
        if r["tool"] == tool and r["n"] == n and r["phase"] == phase:
            return r
    return None


def table(results: list[dict], ns: list[int], tools: list[str]) -> str:
    head = (f"{'N':>3}  {'run':<6} {'tool':<9} {'seconds':>8} {'x hostprep':>10} {'x raw':>6} {'CPU s':>7} "
            f"{'CPU/host':>8} {'x CPU':>6} {'peak MB':>8} {'MB/host':>8} {'rt/host':>7} {'load':>5}  note")
    lines = [head, "-" * len(head)]
    for n in ns:
        for phase in PHASES:
            base = find(results, "hostprep", n, phase)
            floor = find(results, "raw", n, phase)
            for tool in sorted(tools, key=TOOLS.index):
                r = find(results, tool, n, phase)
                if r is None:
                    continue
                if "seconds" not in r:
                    lines.append(f"{n:>3}  {phase:<6} {tool:<9} {'-':>8} {'-':>10} {'-':>6} {'-':>7} {'-':>8} "
                                 f"{'-':>6} {'-':>8} {'-':>8} {'-':>7} {'-':>5}  {r.get('why', '')}")
                    continue
                ratio = (f"{r['seconds'] / base['seconds']:.1f}" if base and base.get("ok") and r.get("ok")
                         and "seconds" in base else "-")
                to_raw = (f"{r['seconds'] / floor['seconds']:.2f}" if floor and floor.get("ok") and r.get("ok")
                          and "seconds" in floor else "-")
                rt = r.get("round_trips_per_host", {}).get("mean", "")
                note = r.get("why", "") if r.get("ok") else "FAILED: " + r.get("why", "")
                cpu = f"{r['cpu_seconds']:.1f}" if "cpu_seconds" in r else "-"
                per_host = f"{r['cpu_seconds'] / n:.3f}" if "cpu_seconds" in r else "-"
                cpu_ratio = (f"{r['cpu_seconds'] / base['cpu_seconds']:.1f}" if base and base.get("ok") and r.get("ok")
                             and base.get("cpu_seconds") and "cpu_seconds" in r else "-")
                load = f"{r['loadavg_before']:.1f}" if "loadavg_before" in r else "-"
                lines.append(f"{n:>3}  {phase:<6} {tool:<9} {r['seconds']:>8.1f} {ratio:>10} {to_raw:>6} {cpu:>7} "
                             f"{per_host:>8} {cpu_ratio:>6} {r['peak_pss_mb']:>8.0f} {r['peak_pss_mb'] / n:>8.1f} "
                             f"{rt!s:>7} {load:>5}  {note}")
    return "\n".join(lines)


def targets(results: list[dict]) -> list[dict]:
    out = []
    h = find(results, "hostprep", 50, "no-op")
    for tool, floor in (("ansible", 10), ("pyinfra", 3)):
        r = find(results, tool, 50, "no-op")
        ok = bool(h and r and h.get("ok") and r.get("ok"))
        ratio = r["seconds"] / h["seconds"] if ok else None
        cpu = (f"; CPU {r['cpu_seconds'] / h['cpu_seconds']:.1f}x ({r['cpu_seconds'] / 50:.3f} s / "
               f"{h['cpu_seconds'] / 50:.3f} s per host)" if ok and h.get("cpu_seconds") and "cpu_seconds" in r else "")
        out.append({"target": f"no-op on 50 hosts: {tool} / hostprep >= {floor}",
                    "measured": f"{ratio:.1f}x ({r['seconds']:.1f} s / {h['seconds']:.1f} s){cpu}" if ok else
                    "not measured", "pass": ok and ratio >= floor})
    for n in sorted({r["n"] for r in results}):
        h, raw, py = (find(results, t, n, "first") for t in ("hostprep", "raw", "pyinfra"))
        if raw is not None:
            ok = bool(h and h.get("ok") and raw.get("ok"))
            ratio = h["seconds"] / raw["seconds"] if ok else None
            out.append({"target": f"first apply on {n} host(s): hostprep / raw <= 1.1",
                        "measured": f"{ratio:.2f}x ({h['seconds']:.1f} s / {raw['seconds']:.1f} s)" if ok else
                        "not measured", "pass": ok and ratio <= 1.1})
        if py is not None:
            ok = bool(h and h.get("ok") and py.get("ok"))
            out.append({"target": f"first apply on {n} host(s): hostprep <= pyinfra",
                        "measured": f"{h['seconds']:.1f} s vs {py['seconds']:.1f} s" if ok else "not measured",
                        "pass": ok and h["seconds"] <= py["seconds"]})
    mem = [r for r in (find(results, "hostprep", 50, p) for p in PHASES) if r and "peak_pss_mb" in r]
    worst = max((r["peak_pss_mb"] / 50 for r in mem), default=None)
    out.append({"target": "hostprep control-node memory on 50 hosts <= 5 MB/host (peak PSS of its tree / 50)",
                "measured": f"{worst:.2f} MB/host" if worst is not None else "not measured",
                "pass": worst is not None and worst <= 5})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", default="1,10,50", help="comma list of fleet sizes")
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help="comma list of hostprep, ansible, pyinfra, raw, in the order they run for each N")
    parser.add_argument("--role", default="docker", help="role under roles/ (pyinfra: bench/fleet/pyinfra_ROLE.py)")
    parser.add_argument("--flavor", default="el9", choices=FLAVORS,
                        help="lab release of the hosts; el7/el8 are managed by ansible-core 2.16")
    parser.add_argument("--prefix", default="bf", help="lab host name prefix (hosts are PREFIX<N><tool letter>-i)")
    parser.add_argument("--out", type=Path, default=Path("bench-fleet-results.json"), help="raw results (JSON)")
    parser.add_argument("--workdir", type=Path, help="keep inventories and logs here (default: a temp dir)")
    parser.add_argument("--hostprep-args", default="", help="more arguments for hostprep apply (e.g. --no-fast-path)")
    parser.add_argument("--interval", type=float, default=0.2, help="memory sampling period (s)")
    parser.add_argument("--settle", type=float, default=3.0, help="pause before each measured run (s)")
    parser.add_argument("--max-load", type=float, default=None,
                        help="after the pause, wait until the 1-minute load average is at most this")
    parser.add_argument("--max-load-wait", type=float, default=300.0, help="the longest such wait (s)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="per tool run (s)")
    opts = parser.parse_args()
    ns = [int(x) for x in opts.hosts.split(",") if x]
    tools = [t for t in opts.tools.split(",") if t]
    if unknown := set(tools) - set(TOOLS):
        parser.error(f"unknown tools: {sorted(unknown)}")
    if not (ROOT / "roles" / opts.role).is_dir():
        parser.error(f"no role roles/{opts.role}")
    if "raw" in tools and not (HERE / f"raw_{opts.role}.py").exists():
        parser.error(f"no raw script generator bench/fleet/raw_{opts.role}.py for role {opts.role}")
    if "pyinfra" in tools and not (HERE / f"pyinfra_{opts.role}.py").exists():
        parser.error(f"no pyinfra deploy bench/fleet/pyinfra_{opts.role}.py for role {opts.role}")
    if os.geteuid() != 0:
        parser.error("run as root (lab hosts)")

    stopping: list[int] = []

    def on_term(signum: int, frame: Any) -> None:
        stopping.append(signum)  # a library may turn the interrupt into its own error: the loop checks this too
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    build_image(opts.flavor)
    # byte-compiled, as an installed package is: under PYTHONDONTWRITEBYTECODE a source changed since its last
    # .pyc is compiled again by every run (the peers are installed packages, compiled when pip installed them)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "hostprep")], check=True)
    work_root = opts.workdir or Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    work_root.mkdir(parents=True, exist_ok=True)
    print(f"bench/fleet: role {opts.role}, hosts {ns}, tools {tools}; logs in {work_root}", flush=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results: list[dict] = []
    try:
        for n in ns:
            for tool in tools:
                try:
                    bench_tool(tool, n, opts, work_root, results)
                except Exception as exc:  # noqa: BLE001 - report it, go on with the next tool
                    print(f"  {tool} N={n}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                    for phase in TOOL_PHASES.get(tool, PHASES):
                        if not find(results, tool, n, phase):
                            results.append({"tool": tool, "n": n, "phase": phase, "ok": False,
                                            "why": f"{type(exc).__name__}: {exc}"[:300]})
                if stopping:  # SIGTERM: no further tool (lab up turns the interrupt into a HostprepError)
                    raise KeyboardInterrupt(f"signal {stopping[0]}")
    finally:
        report = {
            "started": started, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "role": opts.role, "role_vars": ROLE_VARS.get(opts.role, {}), "flavor": opts.flavor,
            "hosts": ns, "tools": tools, "hostprep_args": opts.hostprep_args,
            "settle_s": opts.settle, "max_load": opts.max_load,
            "machine": {"cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()},
            "versions": {"hostprep": f"{metadata.version('hostprep')} ({git_state()})",
                         "ansible-core": ansible_version(opts.flavor), "pyinfra": metadata.version("pyinfra")},
            "memory": f"peak over samples every {opts.interval:.2f} s of the summed PSS (and RSS) of the tool's "
                      "process tree, ssh ControlPersist masters included",
            "runs": results, "targets": targets(results),
        }
        opts.out.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(table(results, ns, tools))
    print()
    for t in report["targets"]:
        print(f"{'PASS' if t['pass'] else 'MISS'}  {t['target']}: {t['measured']}")
    print(f"\nraw results: {opts.out}")
    return 0 if all(r.get("ok") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
