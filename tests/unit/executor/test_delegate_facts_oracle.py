"""delegate_facts, as geerlingguy.kubernetes uses it (set_fact delegated to every host of a loop): the facts go
to the host delegated to, not to the one running the task; without it they stay with the running host.
Compared with ansible-playbook on the same playbook (two local hosts)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent

PLAYBOOK = """
- hosts: a
  gather_facts: false
  tasks:
    - set_fact: {mark: "from {{ inventory_hostname }}"}
      delegate_to: "{{ item }}"
      delegate_facts: true
      with_items: "{{ groups['all'] }}"
    - set_fact: {plain: "kept by {{ inventory_hostname }}"}
      delegate_to: b
    - set_fact: {kept: "not delegated"}
      delegate_to: b
      delegate_facts: "{{ 1 == 2 }}"
- hosts: all
  gather_facts: false
  tasks:
    - debug:
        msg: "{{ inventory_hostname }}: {{ mark | default('-') }} / {{ plain | default('-') }} /
              {{ kept | default('-') }}"
"""


def _messages(cmd: list[str], cwd: Path) -> list[str]:
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(cwd / ".a"), "ANSIBLE_LOCAL_TEMP": str(cwd / ".t"),
           "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return sorted(re.findall(r'"msg": "(.*)"', proc.stdout))


def test_delegated_facts_land_where_ansible_puts_them(tmp_path: Path) -> None:
    (tmp_path / "inv").write_text("".join(f"{h} ansible_connection=local ansible_python_interpreter={sys.executable}\n"
                                          for h in "ab"))
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    ours = _messages([str(BIN / "hostprep"), "apply", "-i", "inv", "site.yml", "--progress", "lines"], tmp_path)
    theirs = _messages([str(BIN / "ansible-playbook"), "-i", "inv", "site.yml"], tmp_path)
    assert ours == ["a: from a / kept by a / not delegated", "b: from a / - / -"]
    assert ours == theirs
