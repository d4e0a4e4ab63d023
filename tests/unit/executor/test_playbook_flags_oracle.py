"""ansible-playbook's flags against ansible-playbook itself: --list-tasks/--list-hosts/--list-tags print the
same text, --start-at-task and --force-handlers run the same tasks; usage errors and a --limit that
matches nothing are bad input (exit 3) before any host is touched."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.unit.ansible_listing import hosts_sorted

BIN = Path(sys.executable).parent

ROLE = """
- name: role task
  command: touch {out}/role-task
  tags: [rt]
- include_tasks: other.yml
"""
BOOK = """
- hosts: web:db
  gather_facts: false
  tags: [ptag]
  roles: [r]
  tasks:
    - command: touch {out}/unnamed-{{{{ inventory_hostname }}}}
      tags: [a, b]
    - name: second task
      command: touch {out}/second-{{{{ inventory_hostname }}}}
    - block:
        - name: in block
          command: touch {out}/block-{{{{ inventory_hostname }}}}
          tags: blk
        - name: after in block
          command: touch {out}/after-{{{{ inventory_hostname }}}}
      tags: [outer]
- name: second play
  hosts: all
  gather_facts: false
  tasks:
    - import_tasks: imp.yml
"""


def project(tmp: Path, tool: str) -> Path:
    work = tmp / tool
    out = work / "out"
    (work / "roles/r/tasks").mkdir(parents=True)
    out.mkdir()
    (work / "roles/r/tasks/main.yml").write_text(textwrap.dedent(ROLE.format(out=out)))
    (work / "roles/r/tasks/other.yml").write_text(f"- command: touch {out}/other\n")
    (work / "imp.yml").write_text(f"- name: imported\n  command: touch {out}/imported-{{{{ inventory_hostname }}}}\n")
    (work / "site.yml").write_text(textwrap.dedent(BOOK.format(out=out)))
    local = f"ansible_connection=local ansible_python_interpreter={sys.executable}"
    (work / "inv.ini").write_text(f"[web]\nw1 {local}\nw2 {local}\n[db]\nd1 {local}\n")
    return work


def run(tool: str, work: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(work / ".ansible"),
           "ANSIBLE_LOCAL_TEMP": str(work / ".atmp"), "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    cmd = [str(BIN / tool), *(["apply"] if tool == "hostprep" else []), "-i", "inv.ini", "site.yml", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=work, env=env, timeout=300)


@pytest.mark.parametrize("args", [
    ["--list-tasks"], ["--list-hosts", "--list-tags"], ["--list-tasks", "-t", "a,blk"],
    ["--list-tasks", "--skip-tags", "ptag"], ["--list-hosts", "--limit", "web"], ["--list-tags", "--list-tasks"],
], ids=lambda a: " ".join(a))
def test_listings_print_what_ansible_prints(tmp_path: Path, args: list[str]) -> None:
    outs = {}
    for tool in ("ansible-playbook", "hostprep"):
        proc = run(tool, project(tmp_path, tool), *args)
        assert proc.returncode == 0, proc.stderr
        outs[tool] = hosts_sorted(proc.stdout)
    assert outs["hostprep"] == outs["ansible-playbook"]


def _ran(work: Path) -> list[str]:
    return sorted(p.name for p in (work / "out").iterdir())


@pytest.mark.parametrize("task", ["in block", "r : role task", "second*", "imported"])
def test_start_at_task_runs_what_ansible_runs(tmp_path: Path, task: str) -> None:
    ran = {}
    for tool in ("ansible-playbook", "hostprep"):
        work = project(tmp_path, tool)
        proc = run(tool, work, "--start-at-task", task)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        ran[tool] = _ran(work)
    assert ran["hostprep"] == ran["ansible-playbook"]


def test_start_at_a_task_that_does_not_exist_is_bad_input(tmp_path: Path) -> None:
    proc = run("hostprep", project(tmp_path, "hostprep"), "--start-at-task", "nope")
    assert proc.returncode == 3 and "no task matches 'nope'" in proc.stderr


HANDLER_BOOK = """
- hosts: w1
  gather_facts: false
  tasks:
    - {command: /bin/true, notify: h}
    - command: /bin/false
  handlers:
    - {name: h, command: touch {out}/handler}
"""


@pytest.mark.parametrize("force", [False, True])
def test_force_handlers(tmp_path: Path, force: bool) -> None:
    ran = {}
    for tool in ("ansible-playbook", "hostprep"):
        work = project(tmp_path, tool)
        (work / "site.yml").write_text(textwrap.dedent(HANDLER_BOOK.replace("{out}", str(work / "out"))))
        proc = run(tool, work, *(["--force-handlers"] if force else []))
        assert proc.returncode != 0
        ran[tool] = _ran(work)
    assert ran["hostprep"] == ran["ansible-playbook"] == (["handler"] if force else [])


@pytest.mark.parametrize("args,message", [
    (["--limit", "nosuch"], "--limit 'nosuch' matches no host"),
    (["--bogus-flag"], "No such option"),
])
def test_bad_flags_exit_3_before_any_host(tmp_path: Path, args: list[str], message: str) -> None:
    work = project(tmp_path, "hostprep")
    proc = run("hostprep", work, *args)
    assert proc.returncode == 3 and message in proc.stderr, proc.stderr
    assert _ran(work) == []


STEP_BOOK = """
- hosts: w1
  gather_facts: false
  tasks:
    - {name: one, command: "touch {out}/one"}
    - {name: two, command: "touch {out}/two"}
    - {name: three, command: "touch {out}/three"}
    - {name: four, command: "touch {out}/four"}
"""


def test_step_asks_before_each_task_like_ansible(tmp_path: Path) -> None:
    ran = {}
    for tool in ("ansible-playbook", "hostprep"):
        work = project(tmp_path, tool)
        (work / "site.yml").write_text(textwrap.dedent(STEP_BOOK.replace("{out}", str(work / "out"))))
        env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(work / ".ansible"),
               "ANSIBLE_LOCAL_TEMP": str(work / ".atmp"), "ANSIBLE_RETRY_FILES_ENABLED": "0"}
        cmd = [str(BIN / tool), *(["apply"] if tool == "hostprep" else []), "-i", "inv.ini", "site.yml", "--step"]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work, env=env, timeout=300,
                              input="n\ny\nc\n", start_new_session=True)  # no terminal: answers on stdin
        assert proc.returncode == 0, proc.stdout + proc.stderr
        ran[tool] = _ran(work)
    assert ran["hostprep"] == ran["ansible-playbook"] == ["four", "three", "two"]
