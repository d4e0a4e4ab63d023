"""`-vv` prints what ansible-playbook -vv prints around the results: the PLAYBOOK banner and play count, a
`task path: FILE:LINE` after every task and handler header (FILE:LINE where the task's mapping starts,
in included files and roles too), `included:` lines and `META:` lines. Compared line by line with
ansible-playbook on local hosts."""

from __future__ import annotations

import re
from pathlib import Path

from tests.unit.config.test_ansible_cfg_oracle import project, run

BOOK = """
- hosts: h1
  tasks:
    - name: one
      command: /bin/true
      notify: h
    - include_tasks: inc.yml
    - meta: flush_handlers
  handlers:
    - name: h
      debug: {msg: handler}
- name: second
  hosts: all
  gather_facts: false
  roles:
    - r1
"""
SHOWN = re.compile(r"^(PLAYBOOK:|PLAY |TASK |RUNNING HANDLER|task path:|META:|\d+ plays in|included:)")


def test_vv_lines_as_ansible(tmp_path: Path) -> None:
    seen = {}
    for tool in ("ansible-playbook", "hostprep"):
        work = project(tmp_path, tool, "[defaults]\n", BOOK)
        (work / "inc.yml").write_text("\n- name: inc task\n  debug: {msg: inc}\n")
        (work / "roles" / "r1" / "tasks").mkdir(parents=True)
        (work / "roles" / "r1" / "tasks" / "main.yml").write_text("---\n- name: role task\n  debug: {msg: r}\n")
        proc = run(tool, work, "-i", "hosts.ini", "site.yml", "-vv", cfg=work / "ansible.cfg")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        lines = [line.replace(str(work), "W") for line in proc.stdout.splitlines() if SHOWN.match(line)]
        seen[tool] = lines
    assert seen["hostprep"] == seen["ansible-playbook"], "\n".join(seen["hostprep"])
    assert "task path: W/inc.yml:2" in seen["hostprep"]
    assert "META: triggered running handlers for h1" in seen["hostprep"]


def test_task_path_only_from_vv(tmp_path: Path) -> None:
    work = project(tmp_path, "hostprep", "[defaults]\n", BOOK)
    (work / "inc.yml").write_text("- debug: {msg: inc}\n")
    (work / "roles" / "r1" / "tasks").mkdir(parents=True)
    (work / "roles" / "r1" / "tasks" / "main.yml").write_text("- debug: {msg: r}\n")
    proc = run("hostprep", work, "-i", "hosts.ini", "site.yml", "-v", cfg=work / "ansible.cfg")
    assert proc.returncode == 0 and "task path:" not in proc.stdout and "PLAYBOOK:" not in proc.stdout, proc.stdout
