"""A play's `port` keyword and ansible.cfg's `remote_port` take effect with Ansible's precedence (a host's
ansible_port beats the play's port, which beats remote_port). Checked with a loopback sshd on a free port:
an inventory host without ansible_port would try port 22 and fail, so reaching the host proves the setting
was used; a wrong ansible_port on the host shows that the host variable wins."""

from __future__ import annotations

import os
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


def apply(tmp: Path, sshd: LoopbackSshd, book: str, *, host_port: int | None = None,
          cfg: str = "[defaults]\n") -> subprocess.CompletedProcess:
    hv = sshd.hostvars()
    hv.pop("ansible_port", None)
    if host_port:
        hv["ansible_port"] = host_port
    line = " ".join(f"{k}={v!r}" if " " in str(v) else f"{k}={v}" for k, v in hv.items())
    (tmp / "inv.ini").write_text(f"h1 {line}\n")
    (tmp / "site.yml").write_text(book.replace("@TMP@", str(tmp)).replace("@PORT@", str(sshd.port)))
    (tmp / "ansible.cfg").write_text(cfg.replace("@PORT@", str(sshd.port)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(tmp / "ansible.cfg"), HOME=str(tmp))
    return subprocess.run([str(BIN), "apply", "-i", "inv.ini", "site.yml"], capture_output=True, text=True,
                          cwd=tmp, timeout=120, env=env)


BOOK = """
- hosts: h1
  gather_facts: false
  port: @PORT@
  tasks:
    - command: "true"
"""


def test_play_port_is_used(tmp_path: Path, sshd: LoopbackSshd) -> None:
    proc = apply(tmp_path, sshd, BOOK)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_host_port_beats_the_play_port(tmp_path: Path, sshd: LoopbackSshd) -> None:
    proc = apply(tmp_path, sshd, BOOK, host_port=1)
    assert proc.returncode == 4 and "Connection refused" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_remote_port_from_ansible_cfg(tmp_path: Path, sshd: LoopbackSshd) -> None:
    book = BOOK.replace("  port: @PORT@\n", "")
    proc = apply(tmp_path, sshd, book, cfg="[defaults]\nremote_port = @PORT@\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = apply(tmp_path, sshd, book, cfg="[defaults]\nremote_port = 1\n")  # and it is really used
    assert proc.returncode == 4, proc.stdout + proc.stderr
