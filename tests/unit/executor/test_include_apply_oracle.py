"""include_tasks/include_role `apply:` (keywords given to the included tasks, as a block around them) as
ansible-playbook does it; import_role `apply` refused instead of ignored (include_role `public: true` is
honoured: tests/unit/executor/test_role_vars_oracle.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.unit.config.test_ansible_cfg_oracle import project, run

BOOK = """
- hosts: h1
  gather_facts: false
  tasks:
    - include_tasks:
        file: inc.yml
        apply:
          vars: {who: applied}
    - include_role:
        name: r1
        apply:
          when: false
    - include_role:
        name: r1
        apply:
          vars: {who: role}
"""


def test_apply_as_ansible(tmp_path: Path) -> None:
    seen = {}
    for tool in ("ansible-playbook", "hostprep"):
        work = project(tmp_path, tool, "[defaults]\n", BOOK)
        (work / "inc.yml").write_text("- debug: {msg: \"inc {{ who | default('none') }}\"}\n")
        (work / "roles" / "r1" / "tasks").mkdir(parents=True)
        role_tasks = work / "roles" / "r1" / "tasks" / "main.yml"
        role_tasks.write_text("- debug: {msg: \"r1 {{ who | default('none') }}\"}\n")
        proc = run(tool, work, "-i", "hosts.ini", "site.yml", cfg=work / "ansible.cfg")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        seen[tool] = (re.findall(r'"msg": "([^"]*)"', proc.stdout), proc.stdout.count("skipping: [h1]"))
    assert seen["hostprep"] == seen["ansible-playbook"] == (["inc applied", "r1 role"], 1)


@pytest.mark.parametrize("task,message", [
    ("import_role: {name: r1, apply: {tags: [x]}}", "apply"),
])
def test_refused_not_ignored(tmp_path: Path, task: str, message: str) -> None:
    work = project(tmp_path, "hostprep", "[defaults]\n", f"- hosts: all\n  tasks:\n    - {task}\n")
    (work / "roles" / "r1" / "tasks").mkdir(parents=True)
    (work / "roles" / "r1" / "tasks" / "main.yml").write_text("- debug: {msg: r1}\n")
    proc = run("hostprep", work, "-i", "hosts.ini", "site.yml", cfg=work / "ansible.cfg")
    assert proc.returncode == 3 and message in proc.stderr, proc.stdout + proc.stderr
