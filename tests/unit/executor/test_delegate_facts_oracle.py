"""delegate_facts, as geerlingguy.kubernetes uses it (set_fact delegated to every host of a loop): the facts go
to the host delegated to, not to the one running the task; without it they stay with the running host.
And a delegated result's line names the delegate as Ansible's does (`ok: [a -> b(127.0.0.2)]`, robertdebock.users'
`delegate_to: localhost`). Compared with ansible-playbook on the same playbook (two local hosts)."""

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
- hosts: a
  gather_facts: false
  tasks:
    - command: "true"
      delegate_to: localhost
    - command: /bin/false
      delegate_to: b
      ignore_errors: true
    - debug: {msg: "item {{ item }}"}
      delegate_to: b
      loop: [1]
    - command: "true"
      delegate_to: b
      when: false
"""


def _run(cmd: list[str], cwd: Path) -> tuple[list[str], list[str]]:
    """The debug messages, and the result lines' status and host label, in order."""
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(cwd / ".a"), "ANSIBLE_LOCAL_TEMP": str(cwd / ".t"),
           "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    labels = re.findall(r"^(?:ok|changed|fatal|failed|skipping): \[[^\]]*\]", proc.stdout, re.MULTILINE)
    return sorted(re.findall(r'^ +"msg": "(.*)"$', proc.stdout, re.MULTILINE)), labels


def test_delegated_facts_land_where_ansible_puts_them(tmp_path: Path) -> None:
    (tmp_path / "inv").write_text("".join(f"{h} ansible_connection=local ansible_python_interpreter={sys.executable}\n"
                                          for h in ("a", "b ansible_host=127.0.0.2")))
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    ours, our_labels = _run([str(BIN / "hostprep"), "apply", "-i", "inv", "site.yml", "--progress", "lines"], tmp_path)
    theirs, their_labels = _run([str(BIN / "ansible-playbook"), "-i", "inv", "site.yml"], tmp_path)
    assert ours == ["a: from a / kept by a / not delegated", "b: from a / - / -", "item 1"]
    assert ours == theirs
    assert "ok: [a -> b(127.0.0.2)]" in our_labels and "changed: [a -> localhost]" in our_labels
    assert "fatal: [a -> b(127.0.0.2)]" in our_labels and "skipping: [a]" in our_labels
    assert sorted(our_labels) == sorted(their_labels)  # the two plays' hosts may interleave
