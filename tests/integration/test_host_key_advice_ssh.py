"""The unknown-host-key error's advice names the setting that decided the policy, so following it works:
a host's StrictHostKeyChecking=yes wins over --host-key-policy accept-new (as its variables win over
every connection flag), and the message says to change the host's policy; `off` says that a changed
key is still refused. A loopback sshd (tests/integration/loopback_sshd.py) whose key is not known."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.loopback_sshd import LoopbackSshd, running_sshd

BIN = Path(sys.executable).parent / "hostprep"


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[LoopbackSshd]:
    with running_sshd(tmp_path / "sshd") as server:
        yield server


def run(tmp: Path, sshd: LoopbackSshd, strict: str | None, *args: str) -> subprocess.CompletedProcess:
    empty = tmp / "known_hosts_empty"
    empty.write_text("")
    common = f"-o UserKnownHostsFile={empty}" + (f" -o StrictHostKeyChecking={strict}" if strict else "")
    (tmp / "inv.ini").write_text(f"h1 ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user=root "
                                 f"ansible_ssh_private_key_file={sshd.client_key} "
                                 f"ansible_ssh_common_args='{common}'\n")
    return subprocess.run([str(BIN), "run", "h1", "-i", "inv.ini", "-m", "ping", *args], capture_output=True,
                          text=True, cwd=tmp, timeout=120)


def test_host_variable_decides_and_the_advice_says_so(tmp_path: Path, sshd: LoopbackSshd) -> None:
    proc = run(tmp_path, sshd, "yes", "--host-key-policy", "accept-new")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "the host's variables decided it" in proc.stderr and "accept-new" in proc.stderr, proc.stderr
    fixed = run(tmp_path, sshd, "accept-new")  # following the advice works
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


def test_cli_and_default_advice(tmp_path: Path, sshd: LoopbackSshd) -> None:
    cli = run(tmp_path, sshd, None, "--host-key-policy", "strict")
    assert cli.returncode == 4 and "--host-key-policy strict decided it" in cli.stderr, cli.stderr
    default = run(tmp_path, sshd, None)
    assert default.returncode == 4 and "use --host-key-policy accept-new" in default.stderr, default.stderr
    fixed = run(tmp_path, sshd, None, "--host-key-policy", "accept-new")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


def test_off_warns_that_a_changed_key_is_still_refused(tmp_path: Path, sshd: LoopbackSshd) -> None:
    proc = run(tmp_path, sshd, None, "--host-key-policy", "off")
    assert proc.returncode == 0, proc.stderr
    assert "a changed key is still refused" in proc.stderr
