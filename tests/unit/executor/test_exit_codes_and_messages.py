"""What a user reads and what exit codes say (issue 16 §4): unreachable hosts carry the cause, facts and
verify do not exit 0 for an unreachable or unknown host, --limit names that match nothing are warned
about, the retry file goes beside the playbook. The unreachable host is a closed port on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent / "hostprep"


def closed_port() -> int:
    with socket.socket() as sock:  # bound then closed: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hostprep(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    (tmp / "inv.ini").write_text(f"[web]\ndown ansible_host=127.0.0.1 ansible_port={closed_port()} "
                                 "ansible_timeout=2\nlocal1 ansible_connection=local\n")
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, cwd=tmp, timeout=120)


def test_unreachable_says_connection_refused_everywhere(tmp_path: Path) -> None:
    (tmp_path / "site.yml").write_text("- hosts: down\n  gather_facts: false\n  tasks:\n    - ping:\n")
    run = hostprep(tmp_path, "apply", "-i", "inv.ini", "site.yml")
    assert run.returncode == 4 and "Connection refused" in run.stdout, run.stdout
    assert (tmp_path / "site.retry").read_text() == "down\n"  # beside the playbook, as Ansible writes it
    adhoc = hostprep(tmp_path, "run", "down", "-i", "inv.ini", "-m", "ping")
    assert adhoc.returncode == 4 and "UNREACHABLE!" in adhoc.stderr and "Connection refused" in adhoc.stderr
    facts = hostprep(tmp_path, "facts", "-i", "inv.ini", "down")
    assert facts.returncode == 4 and "Connection refused" in facts.stdout, facts.stdout
    verify = hostprep(tmp_path, "verify", "-i", "inv.ini", "--limit", "down")
    assert verify.returncode == 4 and "UNREACHABLE" in verify.stdout, verify.stdout
    assert "Connection refused" in verify.stdout


def test_facts_of_an_unknown_host_is_bad_input(tmp_path: Path) -> None:
    proc = hostprep(tmp_path, "facts", "-i", "inv.ini", "nosuch")
    assert proc.returncode == 3 and "no hosts matched 'nosuch'" in proc.stderr


def test_limit_names_that_match_nothing_are_warned_about(tmp_path: Path) -> None:
    (tmp_path / "site.yml").write_text("- hosts: all\n  gather_facts: false\n  tasks: []\n")
    proc = hostprep(tmp_path, "apply", "-i", "inv.ini", "site.yml", "--limit", "local1,nosuch")
    assert proc.returncode == 0, proc.stderr
    assert "Could not match supplied host pattern, ignoring: nosuch" in proc.stderr
    none = hostprep(tmp_path, "apply", "-i", "inv.ini", "site.yml", "--limit", "nosuch")
    assert none.returncode == 3 and "matches no host" in none.stderr


ERRORS_BOOK = """
- hosts: all
  gather_facts: false
  vars:
    empty: []
  tasks:
    - name: empty loop
      debug: msg={{ item }}
      loop: "{{ empty }}"
    - name: loop over undefined
      debug: msg={{ item }}
      loop: "{{ nothere }}"
      ignore_errors: true
    - name: failing file
      file: path=/proc/hostprep-x/y state=directory
      ignore_errors: true
    - name: failing command
      command: /bin/false
      ignore_errors: true
"""


def test_failures_empty_loops_and_loop_errors_as_ansible_counts_them(tmp_path: Path) -> None:
    import os
    import re

    recaps = {}
    for tool in ("ansible-playbook", "hostprep"):
        work = tmp_path / tool
        work.mkdir()
        (work / "site.yml").write_text(ERRORS_BOOK)
        (work / "inv.ini").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable}\n")
        env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(work / ".a"),
               "ANSIBLE_LOCAL_TEMP": str(work / ".t"), "ANSIBLE_RETRY_FILES_ENABLED": "0"}
        cmd = [str(BIN.parent / tool), *(["apply"] if tool == "hostprep" else []), "-i", "inv.ini", "site.yml"]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work, env=env, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        line = next(x for x in proc.stdout.splitlines() if re.match(r"^h1\s+:", x))
        recaps[tool] = dict(re.findall(r"(\w+)=(\d+)", line))
        # the empty loop is one skipped line; the loop error is under the task's own name
        assert re.search(r"TASK \[empty loop\] \*+\nskipping: \[h1\]", proc.stdout), proc.stdout
        assert re.search(r"TASK \[loop over undefined\] \*+\n(.*\n)*?fatal: \[h1\]", proc.stdout), proc.stdout
    assert recaps["hostprep"] == recaps["ansible-playbook"]
