"""A role's handlers inherit what its tasks inherit, as ansible-playbook's do: an imported role's handler the
import_role task's keywords (`when`, `vars`), a `roles:` role's handler the entry's. Notified from a play task
while the import's or the entry's `when` is false, Ansible skips the handler; before, hostprep ran it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.unit.config.test_ansible_cfg_oracle import project, run

BOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - import_role: {name: r}
      vars: {greeting: from-import}
      when: go | bool
    - command: /bin/true
      changed_when: true
      notify: h
- hosts: all
  gather_facts: false
  roles:
    - {role: r, vars: {greeting: from-roles}, when: go | bool}
  tasks:
    - command: /bin/true
      changed_when: true
      notify: h
"""
ROLE_TASKS = "- command: /bin/true\n  changed_when: true\n  notify: h\n"
ROLE_HANDLERS = "- name: h\n  debug: {msg: \"handler greeting={{ greeting | default('unset') }}\"}\n"


def _handler_lines(out: str) -> list[str]:
    """What each RUNNING HANDLER section printed: its status line and message."""
    got = []
    for section in out.split("RUNNING HANDLER")[1:]:
        body = section.split("\n\n", 1)[0]
        status = re.findall(r"^(ok|skipping|changed): \[h1\]", body, re.M)
        msg = re.findall(r'"msg": "([^"]*)"', body)
        got.append((status, msg))
    return got


@pytest.mark.parametrize("go", [True, False])
def test_handlers_inherit_the_import_and_the_role_entry_as_ansible(tmp_path: Path, go: bool) -> None:
    seen = {}
    for tool in ("ansible-playbook", "hostprep"):
        work = project(tmp_path, tool, "[defaults]\n", BOOK)
        for sub, text in (("tasks", ROLE_TASKS), ("handlers", ROLE_HANDLERS)):
            (work / "roles" / "r" / sub).mkdir(parents=True)
            (work / "roles" / "r" / sub / "main.yml").write_text(text)
        proc = run(tool, work, "-i", "hosts.ini", "site.yml", "--limit", "h1", "-e", f"go={go}",
                   cfg=work / "ansible.cfg")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        seen[tool] = _handler_lines(proc.stdout)
    assert seen["hostprep"] == seen["ansible-playbook"], seen
    if go:
        assert seen["hostprep"] == [(["ok"], ["handler greeting=from-import"]),
                                    (["ok"], ["handler greeting=from-roles"])]
    else:
        assert seen["hostprep"] == [(["skipping"], []), (["skipping"], [])]
