"""The `diff` keyword (task, block, play) as ansible-playbook honours it — `diff: true` shows a task's diff
without --diff, `diff: false` hides it under --diff — and the `timeout` keyword, which hostprep cannot honour,
refused up front instead of ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.config.test_ansible_cfg_oracle import project, run

BOOK = """
- hosts: h1
  gather_facts: false
  tasks:
    - copy: {dest: "@OUT@/shown", content: "shown\\n"}
      diff: true
    - copy: {dest: "@OUT@/hidden", content: "hidden\\n"}
      diff: false
    - block:
        - copy: {dest: "@OUT@/inblock", content: "inblock\\n"}
      diff: true
    - copy: {dest: "@OUT@/plain", content: "plain\\n"}
"""


@pytest.mark.parametrize("flag", [False, True])
def test_diff_keyword_as_ansible(tmp_path: Path, flag: bool) -> None:
    seen = {}
    for tool in ("ansible-playbook", "hostprep"):
        work = project(tmp_path, tool, "[defaults]\n", BOOK)
        proc = run(tool, work, "-i", "hosts.ini", "site.yml", *(["--diff"] if flag else []), cfg=work / "ansible.cfg")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        seen[tool] = {name: f"+{name}" in proc.stdout for name in ("shown", "hidden", "inblock", "plain")}
    assert seen["hostprep"] == seen["ansible-playbook"]
    assert seen["hostprep"] == {"shown": True, "hidden": False, "inblock": True, "plain": flag}


@pytest.mark.parametrize("where", ["task", "block", "play"])
def test_timeout_keyword_is_refused_not_ignored(tmp_path: Path, where: str) -> None:
    book = {"task": "- hosts: all\n  tasks:\n    - command: sleep 1\n      timeout: 5\n",
            "block": "- hosts: all\n  tasks:\n    - block:\n        - command: sleep 1\n      timeout: 5\n",
            "play": "- hosts: all\n  timeout: 5\n  tasks:\n    - command: sleep 1\n"}[where]
    work = project(tmp_path, "hostprep", "[defaults]\n", book)
    proc = run("hostprep", work, "-i", "hosts.ini", "site.yml", cfg=work / "ansible.cfg")
    assert proc.returncode == 3 and "timeout keyword" in proc.stderr and "not supported" in proc.stderr, proc.stderr
