"""A loop over an undefined variable with a false `when` is skipped, as in Ansible (its TaskExecutor keeps the
loop's undefined-variable error until the condition is known: robertdebock.users loops over
`user.authorized_keys` `when: user.authorized_keys is defined`); with a true `when`, or a `when` that fails
too, the task fails with the loop's error; a loop that is not a list fails whatever the `when`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent

PLAYBOOK = """
- hosts: all
  gather_facts: false
  vars:
    user: {name: u}
  tasks:
    - debug: {msg: "{{ item }}"}
      loop: "{{ user.authorized_keys }}"
      when: user.authorized_keys is defined
      register: skipped_one
    - debug: {msg: "{{ item }}"}
      with_items: "{{ nope }}"
      when: [true, "nope is defined"]
      register: skipped_two
    - debug: {msg: "{{ item }}"}
      loop: "{{ user.authorized_keys }}"
      when: item.key == 1
      ignore_errors: true
      register: failed_one
    - debug: {msg: "{{ item }}"}
      loop: "{{ user.authorized_keys }}"
      when: user.name == 'u'
      ignore_errors: true
      register: failed_two
    - debug: {msg: "{{ item }}"}
      loop: "{{ user.name }}"
      when: false
      ignore_errors: true
      register: failed_three
    - copy:
        dest: "{{ out }}"
        content: "{{ {'s1': skipped_one.skipped | default(None), 's2': skipped_two.skipped | default(None),
                      'f1': failed_one.failed | default(None), 'f2': failed_two.failed | default(None),
                      'f3': failed_three.failed | default(None)} | to_json }}"
"""


def _outcome(tool: list[str], tmp: Path, name: str) -> dict:
    out = tmp / f"{name}.json"
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(tmp / ".a"), "ANSIBLE_LOCAL_TEMP": str(tmp / ".t"),
           "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    proc = subprocess.run([*tool, "-i", "inv", "site.yml", "-e", f"out={out}"], capture_output=True, text=True,
                          cwd=tmp, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_undefined_loop_waits_for_the_condition_as_in_ansible(tmp_path: Path) -> None:
    (tmp_path / "inv").write_text(f"h ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    ours = _outcome([str(BIN / "hostprep"), "apply"], tmp_path, "ours")
    theirs = _outcome([str(BIN / "ansible-playbook")], tmp_path, "theirs")
    assert ours == {"s1": True, "s2": True, "f1": True, "f2": True, "f3": True}
    assert ours == theirs
