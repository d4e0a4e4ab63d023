"""Ansible's implicit localhost: a play for `localhost` runs locally when the inventory lacks it, and
`all` (or a glob) never matches it; --list-hosts is compared with ansible-playbook's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.unit.ansible_listing import hosts_sorted

BIN = Path(sys.executable).parent
BOOK = """- hosts: localhost
  tasks:
    - command: touch {tmp}/ran-{{{{ inventory_hostname }}}}-{{{{ ansible_facts.system }}}}
- hosts: all
  gather_facts: false
  tasks:
    - command: touch {tmp}/all-{{{{ inventory_hostname }}}}
- hosts: "w*:127.0.0.1"
  gather_facts: false
  tasks: []
"""


def run(tool: str, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    (tmp / "inv.ini").write_text("[web]\nw1 ansible_host=192.0.2.1 ansible_connection=local\n")
    (tmp / "site.yml").write_text(BOOK.format(tmp=tmp))
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(tmp / ".a"), "ANSIBLE_LOCAL_TEMP":
           str(tmp / ".t"), "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    cmd = [str(BIN / tool), *(["apply"] if tool == "hostprep" else []), "-i", "inv.ini", "site.yml", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, env=env, timeout=300)


def test_implicit_localhost_hosts_as_ansible_lists_them(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "h").mkdir()
    theirs = run("ansible-playbook", tmp_path / "a", "--list-hosts")
    ours = run("hostprep", tmp_path / "h", "--list-hosts")
    assert ours.returncode == theirs.returncode == 0, ours.stderr + theirs.stderr
    assert hosts_sorted(ours.stdout) == hosts_sorted(theirs.stdout)


def test_implicit_localhost_runs_locally_and_all_leaves_it_out(tmp_path: Path) -> None:
    proc = run("hostprep", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("ran-", "all-"))) == [
        "all-w1", "ran-localhost-Linux"]
