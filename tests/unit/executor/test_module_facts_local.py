"""Facts a module returns are variables under their own name too (as Ansible injects them)."""

from __future__ import annotations

from pathlib import Path

from tests.unit.executor.test_playbooks_local import apply

BOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - getent: {{database: passwd, key: root}}
    - copy:
        dest: "{out}"
        content: "{{{{ getent_passwd.root[1] }}}} {{{{ ansible_facts.getent_passwd.root[1] }}}}"
"""


def test_module_facts_are_plain_variables(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    proc = apply(tmp_path, BOOK.format(out=out), hosts="h1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.read_text() == "0 0"
