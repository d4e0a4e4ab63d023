"""Helpers for tests on lab hosts: inventories from LabHost objects, state snapshots, hostprep runs."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
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
