"""Run the bundled testinfra suites against hosts over SSH, in parallel, one pytest per host.

Each host gets its own pytest process (testinfra's ssh backend, through an ssh_config written
from the inventory's connection variables with strict host-key checking), so hosts are checked
side by side and one host's failure never hides another's results.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hostprep.transport.ssh import SSHSettings

SUITES = Path(__file__).resolve().parent / "suites"


@dataclass
class HostReport:
    """Outcome of one host's suite: counts and the names of failed checks."""

    host: str
    passed: int = 0
    failed: int = 0
    errors: int = 0
    failures: list[str] = field(default_factory=list)
    output: str = ""
    unreachable: str | None = None  # why the host could not be reached (then no check ran)

    @property
    def ok(self) -> bool:
        return self.unreachable is None and self.failed == 0 and self.errors == 0 and self.passed > 0


def reachable(name: str, hostvars: Mapping[str, Any]) -> str | None:
    """None if the host answers over SSH, else the cause ("Connection refused", ...): an unreachable
    host is reported as UNREACHABLE, not as failed checks."""
    from hostprep.errors import UnreachableError
    from hostprep.transport.connect import open_transport

    transport = open_transport(name, hostvars)
    try:
        transport.run("true")
    except UnreachableError as exc:
        return str(exc)
    finally:
        transport.close()
    return None


def _run_checked(name: str, hostvars: Mapping[str, Any], workdir: Path, suites: list[Path],
                 env: dict[str, str]) -> HostReport:
    cause = reachable(name, hostvars)
    if cause is not None:
        return HostReport(name, unreachable=cause)
    return _run_host(name, workdir, suites, env)


def ssh_config_entry(name: str, hostvars: Mapping[str, Any]) -> str:
    """An ssh_config block for one host, strict about host keys like the transport."""
    s = SSHSettings.from_hostvars(name, hostvars)
    lines = [f"Host {name}", f"  HostName {s.host}", "  BatchMode yes"]
    if s.port:
        lines.append(f"  Port {s.port}")
    if s.user:
        lines.append(f"  User {s.user}")
    for key in s.key_files:
        lines += [f"  IdentityFile {key}", "  IdentitiesOnly yes"]
    if s.known_hosts:
        lines.append(f"  UserKnownHostsFile {s.known_hosts}")
    policy = {"strict": "yes", "accept-new": "accept-new", "off": "no"}[s.host_key_policy]
    lines.append(f"  StrictHostKeyChecking {policy}")
    if s.proxy_jump:
        lines.append(f"  ProxyJump {s.proxy_jump}")
    return "\n".join(lines) + "\n"


def missing_tools() -> list[str]:
    """The distributions the suites run with that cannot be imported (a `pip install --no-deps` leaves them out)."""
    import importlib.util

    wanted = {"pytest": "pytest", "testinfra": "pytest-testinfra"}
    return [dist for module, dist in wanted.items() if importlib.util.find_spec(module) is None]


def _run_host(name: str, workdir: Path, suites: list[Path], env: dict[str, str]) -> HostReport:
    junit = workdir / f"{name}.xml"
    # pytest's own configuration, so no pytest.ini/pyproject.toml above the suites or the caller changes the run
    cmd = [
        sys.executable, "-m", "pytest", "-c", str(workdir / "pytest.ini"), "-p", "no:cacheprovider", "-q",
        "--no-header",
        f"--hosts=ssh://{name}?controlpersist=0", f"--ssh-config={workdir / 'ssh_config'}",
        f"--junitxml={junit}", "--rootdir", str(workdir), *map(str, suites),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    report = HostReport(name, output=proc.stdout + proc.stderr)
    if not junit.exists():
        report.errors = 1
        report.failures.append(f"pytest did not run (rc={proc.returncode})")
        return report
    for case in ET.parse(junit).getroot().iter("testcase"):
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        if bad is not None:
            report.failed += 1
            report.failures.append(case.get("name", "?").split("[")[0])
        elif case.find("skipped") is None:
            report.passed += 1
    return report


def verify_hosts(
    hosts: Mapping[str, Mapping[str, Any]],
    expectations: Mapping[str, Mapping[str, Any]],
    *,
    suites: list[Path] | None = None,
    forks: int = 20,
) -> list[HostReport]:
    """Run the suites for every host (name -> hostvars); return one report per host, in order."""
    suites = suites or sorted(SUITES.glob("test_*.py"))
    with tempfile.TemporaryDirectory(prefix="hostprep-verify-") as tmp:
        workdir = Path(tmp)
        (workdir / "pytest.ini").write_text("[pytest]\n")
        (workdir / "ssh_config").write_text("".join(ssh_config_entry(n, hv) for n, hv in hosts.items()))
        expect_file = workdir / "expect.json"
        expect_file.write_text(json.dumps(expectations))
        env = dict(os.environ, HOSTPREP_VERIFY_EXPECT=str(expect_file))
        with ThreadPoolExecutor(max_workers=max(1, forks)) as pool:
            futures = [pool.submit(_run_checked, name, hosts[name], workdir, suites, env) for name in hosts]
            return [f.result() for f in futures]


def quote_cmd(cmd: list[str]) -> str:
    return " ".join(shlex.quote(c) for c in cmd)
