"""A `notify` that names no handler, as ansible-playbook treats it: no error at load time; when (and only
when) a changed task notifies it, the run ends with Ansible's message (exit 1) before the task's result
is shown and before any later task; a task that does not change never looks the handler up."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.config.test_ansible_cfg_oracle import project, run

BOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - debug: {msg: before}
    - command: /bin/true
      changed_when: chg | bool
      notify: nosuch
    - debug: {msg: after}
  handlers:
    - name: other
      debug: {msg: other}
"""


@pytest.mark.parametrize("changed", [True, False])
def test_notify_of_a_missing_handler_as_ansible(tmp_path: Path, changed: bool) -> None:
    seen = {}
    for tool in ("ansible-playbook", "hostprep"):
        work = project(tmp_path, tool, "[defaults]\n", BOOK)
        proc = run(tool, work, "-i", "hosts.ini", "site.yml", "--limit", "h1", "-e", f"chg={changed}",
                   cfg=work / "ansible.cfg")
        out = proc.stdout + proc.stderr
        seen[tool] = (proc.returncode, "before" in out, "after" in out, "changed: [h1]" in out,
                      "The requested handler 'nosuch' was not found in either the main handlers list nor in "
                      "the listening handlers list" in out)
    assert seen["hostprep"] == seen["ansible-playbook"], seen
    assert seen["hostprep"] == ((1, True, False, False, True) if changed else (0, True, True, False, False))
