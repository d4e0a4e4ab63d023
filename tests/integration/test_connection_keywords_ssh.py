"""remote_user and connection keywords (play, role, block, task) take effect with Ansible's precedence:
a host's ansible_user/ansible_connection beats the keyword, which beats -u/-c. Checked with a loopback
sshd (tests/integration/loopback_sshd.py) that accepts the test key for any user: a keyword naming a
user that does not exist makes the connection fail, which proves the keyword was used."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.loopback_sshd import LoopbackSshd, running_sshd

BIN = Path(sys.executable).parent / "hostprep"


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[LoopbackSshd]:
    with running_sshd(tmp_path / "sshd") as server:
        yield server


def apply(tmp: Path, sshd: LoopbackSshd, book: str, *args: str, host_user: str | None = None
          ) -> subprocess.CompletedProcess:
    hv = sshd.hostvars()
    hv.pop("ansible_user")
    if host_user:
        hv["ansible_user"] = host_user
    line = " ".join(f"{k}={v!r}" if " " in str(v) else f"{k}={v}" for k, v in hv.items())
    (tmp / "inv.ini").write_text(f"h1 {line}\n[far]\nfar1 ansible_host=127.0.0.1 ansible_port=1\n")
    (tmp / "site.yml").write_text(textwrap.dedent(book).replace("@TMP@", str(tmp)))
    return subprocess.run([str(BIN), "apply", "-i", "inv.ini", "site.yml", *args], capture_output=True, text=True,
                          cwd=tmp, timeout=120)


WHOAMI = """
- hosts: h1
  gather_facts: false
  remote_user: root
  tasks:
    - command: whoami
      register: who
    - copy: {dest: "@TMP@/who-{{ who.stdout }}", content: ""}
      delegate_to: localhost
"""


def test_play_remote_user_beats_the_command_line(tmp_path: Path, sshd: LoopbackSshd) -> None:
    proc = apply(tmp_path, sshd, WHOAMI, "-u", "no-such-user-x")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "who-root").exists()


def test_task_remote_user_is_used_and_a_host_variable_beats_it(tmp_path: Path, sshd: LoopbackSshd) -> None:
    book = """
    - hosts: h1
      gather_facts: false
      tasks:
        - command: whoami
          remote_user: no-such-user-x
    """
    failed = apply(tmp_path, sshd, book)
    assert failed.returncode == 4, failed.stdout + failed.stderr  # the keyword's user cannot log in
    ok = apply(tmp_path, sshd, book, host_user="root")
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_connection_local_keyword_on_play_and_task(tmp_path: Path, sshd: LoopbackSshd) -> None:
    book = """
    - hosts: far
      gather_facts: true
      connection: local
      tasks:
        - command: touch @TMP@/ran-locally
    - hosts: far
      gather_facts: false
      tasks:
        - command: touch @TMP@/task-local
          connection: local
    """
    proc = apply(tmp_path, sshd, book)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "ran-locally").exists() and (tmp_path / "task-local").exists()
    refused = apply(tmp_path, sshd, book.replace("connection: local", "connection: winrm", 1))
    assert refused.returncode == 3 and "connection: 'winrm' is not supported by hostprep" in refused.stderr
