"""Helpers for tests on lab hosts: inventories from LabHost objects, state snapshots, hostprep runs."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import yaml

from hostprep.lab import paths
from hostprep.lab.api import lab_vars

BIN = Path(sys.executable).parent


def write_inventory(path: Path, hosts: list, *, deploy: bool = False, extra: dict | None = None) -> Path:
    entries = {h.name: (h.deploy_hostvars if deploy else h.hostvars) for h in hosts}
    data = {"all": {"vars": {**lab_vars(), **(extra or {})}, "hosts": entries}}
    path.write_text(yaml.safe_dump(data))
    return path


def ssh(host, cmd: str, user: str = "root") -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-i", str(paths.KEY), "-o", f"UserKnownHostsFile={paths.KNOWN_HOSTS}", "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=yes", f"{user}@{host.address}", cmd],
        capture_output=True, text=True, timeout=120)


SNAPSHOT = r"""
# a host booted a moment ago is still starting units (transient mounts, tmpfiles): compare settled states.
# /run/credentials/<unit> mounts come and go with the units systemd itself starts (tmpfiles, sysusers), and
# under load they appear after is-system-running says "running": they are not something a playbook changes.
systemctl is-system-running --wait >/dev/null 2>&1 || true
for d in /srv /etc/systemd/system /etc/yum.repos.d /etc/sysctl.d /etc/docker /opt /home; do
  [ -d "$d" ] && find "$d" -xdev \( -type f -o -type l \) -printf '%p %m %u %g %l\n' 2>/dev/null | sort
  [ -d "$d" ] && find "$d" -xdev -type f -exec sha1sum {} + 2>/dev/null | sort
done
rpm -qa | sort
getent passwd | sort; getent group | sort
systemctl list-unit-files --no-legend 2>/dev/null | sort
systemctl list-units --state=active --no-legend --plain 2>/dev/null | awk '{print $1}' \
  | grep -v -e '^session-' -e '^run-credentials-' | sort
rpm -q gpg-pubkey 2>/dev/null | sort
"""


def snapshot(host) -> str:
    """Everything the test playbooks could change on a host, as text to compare."""
    res = ssh(host, SNAPSHOT)
    assert res.returncode == 0, res.stderr
    return res.stdout


def hostprep(*args: str, cwd: Path | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "hostprep"), *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def summary(proc: subprocess.CompletedProcess) -> dict:
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == "summary":
                return event["hosts"]
    raise AssertionError(f"no summary in output:\n{proc.stdout}\n{proc.stderr}")


def failures(proc: subprocess.CompletedProcess) -> list[dict]:
    out = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            e = json.loads(line)
            if e.get("event") == "task_result" and e.get("status") in ("failed", "unreachable"):
                out.append(e)
    return out


def make_wheel(directory: Path, name: str = "hostprep_probe_pkg", version: str = "1.0") -> Path:
    """A minimal pure-Python wheel (PEP 427) built with the standard library."""
    directory.mkdir(parents=True, exist_ok=True)
    whl = directory / f"{name}-{version}-py3-none-any.whl"
    files = {
        f"{name}/__init__.py": b"VALUE = 42\n",
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\n"
                                                 f"Version: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: hostprep-tests\nRoot-Is-Purelib: true\n"
                                             b"Tag: py3-none-any\n",
    }
    record = []
    with zipfile.ZipFile(whl, "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        record.append(f"{name}-{version}.dist-info/RECORD,,")
        z.writestr(f"{name}-{version}.dist-info/RECORD", "\n".join(record) + "\n")
    return whl


RUNTIME = "HOSTPREP_RUNTIME_ROOT=/var/lib/hostprep-runtime /usr/local/bin/hostprep-runtime"
REBOOT_BOOK = ("- hosts: all\n  gather_facts: false\n  tasks:\n    - reboot:\n        reboot_timeout: 180\n"
               "        test_command: systemctl is-system-running --wait\n")


class RebootGroup:
    """One lab host per flavour, rebooted once for the tests that check what survives a reboot.

    A reboot of a lab host that runs containers costs about 90 s (systemd waits DefaultTimeoutStopSec for the
    containers' processes: a container's PID 1 such as `sleep` ignores SIGTERM). The reboot tests of
    test_runtime_role_lab.py, test_runtime_lifecycle_lab.py and test_guide_postgresql_lab.py check different
    containers, so one lab host per flavour serves all of them: each module's `reboot_prepare(group, tmp)` (its part
    before the reboot) runs on the shared host, the host reboots once, and then each test asserts its own
    part (and removes its own containers). Only the modules whose reboot test is selected take part.

    A module takes part with two names: REBOOT_TEST (the name of its test function that uses the group) and
    reboot_prepare(group, tmp) returning what its test compares after the reboot; REBOOT_OWNS names the
    containers and volumes it makes, so that a test can tell its leftovers from the other tests' containers.
    """

    def __init__(self, host, flavor: str, tmp: Path, tmp_path_factory=None) -> None:
        self.host = host
        self.flavor = flavor
        self.tmp = tmp
        self.tmp_path_factory = tmp_path_factory  # for what a module builds once for every flavour
        self.pinned: dict = {}  # after the first apply: ship the binary the host got (see pin())
        self.prepared: dict[str, object] = {}
        self.errors: dict[str, BaseException] = {}
        self.owns: dict[str, dict[str, set[str]]] = {}
        self.reboot_error: BaseException | None = None
        self.seconds: dict[str, float] = {}

    def pin(self) -> None:
        """From now on every apply ships the binary the host has (not a new build of a checkout that may be
        edited meanwhile), so that a re-run after the reboot sees only what the reboot changed."""
        if self.pinned:
            return
        pinned = self.tmp / "pinned.pyz"
        with pinned.open("wb") as out:
            subprocess.run(["ssh", "-i", str(paths.KEY), "-o", f"UserKnownHostsFile={paths.KNOWN_HOSTS}", "-o",
                            "BatchMode=yes", f"root@{self.host.address}", "cat /usr/local/bin/hostprep-runtime"],
                           stdout=out, check=True, timeout=300)
        self.pinned = {"runtime_build": False, "runtime_binary_src": str(pinned)}

    def prepare(self, name: str, owns: dict[str, set[str]], fn: Callable[[RebootGroup, Path], object]) -> None:
        started = time.monotonic()
        self.owns[name] = owns
        try:
            self.prepared[name] = fn(self, self.tmp / name)
        except Exception as exc:  # noqa: BLE001 -- raised again by that module's test, not the others'
            self.errors[name] = exc  # (a timeout or Ctrl-C is a BaseException: it ends the session's run)
        self.seconds[name] = time.monotonic() - started

    def reboot(self) -> None:
        book = self.tmp / "reboot.yml"
        book.write_text(REBOOT_BOOK)
        started = time.monotonic()
        proc = hostprep("apply", "-i", str(write_inventory(self.tmp / "inv-reboot.yml", [self.host])), str(book),
                        "--json", cwd=Path(__file__).resolve().parents[2])
        self.seconds["reboot"] = time.monotonic() - started
        if proc.returncode != 0 or failures(proc):
            self.reboot_error = AssertionError(("the shared reboot failed", proc.returncode, failures(proc),
                                                proc.stderr[-2000:]))

    def before(self, name: str):
        """What `name`'s preparation returned; its own error (or the reboot's) raised again."""
        if name in self.errors:
            raise self.errors[name]
        if name not in self.prepared:
            raise AssertionError(f"{name} took no part in the shared reboot of {self.flavor}: its REBOOT_TEST names "
                                 "no test selected in this session")
        if self.reboot_error is not None:
            raise self.reboot_error
        return self.prepared[name]

    def others(self, name: str, kind: str) -> set[str]:
        """The containers or volumes the other taking-part modules make (they may still exist)."""
        return set().union(*(o[kind] for n, o in self.owns.items() if n != name))

    def left_by_others(self, name: str) -> tuple[list[str], list[str], list[str]]:
        """What the other modules' containers and volumes are now: (container names, container ids, volume
        names), each sorted -- what a module's "leaves nothing behind" check expects once its own are gone."""
        res = ssh(self.host, f"{RUNTIME} ps -a --format json")
        assert res.returncode == 0, res.stderr
        states = [s for s in json.loads(res.stdout) if s["name"] in self.others(name, "containers")]
        res = ssh(self.host, f"{RUNTIME} volume ls -q")
        assert res.returncode == 0, res.stderr
        volumes = [v for v in res.stdout.split() if v in self.others(name, "volumes")]
        return sorted(s["name"] for s in states), sorted(s["id"] for s in states), sorted(volumes)
