"""Loop magic variables, set_fact accumulating in a loop, ansible_verbosity and registered messages that quote
an expression: one local play under ansible-playbook and hostprep, the same values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent

PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - debug: {msg: "{{ ansible_loop | dict2items | rejectattr('key', 'equalto', 'allitems') | items2dict }}"}
      loop: [a, b, c]
      loop_control: {extended: true}
      register: lp
    - set_fact: {acc: "{{ (acc | default([])) + [item] }}"}
      loop: [1, 2, 3]
    - set_fact: {total: "{{ (total | default(0) | int) + item }}"}
      loop: [5, 6]
    - {debug: {msg: "{{ item }}"}, with_lines: "printf 'l1\\nl2\\n'", register: wl}
    - {debug: {msg: "{{ item }}"}, with_inventory_hostnames: all, register: wi}
    - {debug: {msg: "{{ item }}"}, with_env: [HOSTPREP_LOOP_ENV], register: we}
    - command: "true"
      register: cmd
    - debug: {msg: x}
      when: false
      register: skipped_one
    - debug: {msg: x}
      loop: [1, 2]
      when: item == 1
      register: partly
    - set_fact:
        r: "{{ [1, nope_undefined] }}"
      ignore_errors: true
      register: undef
    - copy:
        dest: "{{ out }}"
        content: "{{ {'loop': lp.results | map(attribute='msg') | list, 'acc': acc, 'total': total | int,
                      'verbosity': ansible_verbosity, 'undef_failed': undef.failed,
                      'undef_msg_names_it': 'nope_undefined' in undef.msg, 'cmd_failed': cmd.failed,
                      'skipped_failed': skipped_one.failed | default('absent'), 'skipped_is': skipped_one is skipped,
                      'items_failed': partly.results | map(attribute='failed', default='absent') | list,
                      'lp_keys': lp.keys() | sort, 'with_lookups': [wl, wi, we] | map(attribute='results')
                      | map('map', attribute='msg') | map('list') | list} | to_json(sort_keys=true) }}"
"""


ROLE_PLAYBOOK = """
- hosts: all
  gather_facts: false
  roles: [app]
  tasks:
    - copy:
        dest: "{{ out }}"
        content: "{{ {'base': base_seen, 'app': app_seen, 'play': [ansible_dependent_role_names,
                      ansible_role_names | sort, ansible_play_role_names, role_names]} | to_json }}"
"""
ROLE_FILES = {
    "roles/base/tasks/main.yml": "- set_fact: {base_seen: \"{{ [ansible_role_name, role_name, "
                                 "ansible_role_names | sort, ansible_play_role_names] }}\"}\n",
    "roles/app/meta/main.yml": "dependencies: [base]\n",
    "roles/app/tasks/main.yml": "- set_fact: {app_seen: \"{{ [ansible_role_name, role_name, role_names] }}\"}\n",
}


def _run(tool: str, tmp: Path, *flags: str, playbook: str = PLAYBOOK, files: dict | None = None) -> dict:
    work = tmp / tool
    work.mkdir()
    (work / "site.yml").write_text(playbook)
    for name, text in (files or {}).items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    out = work / "out.json"
    (work / "inv.ini").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable} "
                                  f"out={out}\n")
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(work / ".tmp"),
           "ANSIBLE_HOME": str(work / ".ansible"), "ANSIBLE_RETRY_FILES_ENABLED": "0",
           "HOSTPREP_LOOP_ENV": "from-env"}
    args = ["apply"] if tool == "hostprep" else []
    proc = subprocess.run([str(BIN / tool), *args, *flags, "-i", str(work / "inv.ini"), str(work / "site.yml")],
                          capture_output=True, text=True, cwd=work, env=env, timeout=300)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("flags", [(), ("-vv",)])
def test_loop_variables_set_fact_accumulation_and_verbosity_as_ansible(tmp_path: Path, flags: tuple) -> None:
    ours = _run("hostprep", tmp_path, *flags)
    theirs = _run("ansible-playbook", tmp_path, *flags)
    assert ours == theirs
    assert ours["acc"] == [1, 2, 3] and ours["total"] == 11 and ours["verbosity"] == (len(flags[0]) - 1 if flags else 0)
    assert ours["loop"][1]["previtem"] == "a" and ours["loop"][0]["revindex0"] == 2
    assert ours["with_lookups"] == [["l1", "l2"], ["h1"], ["from-env"]]


def test_role_magic_variables_as_ansible(tmp_path: Path) -> None:
    ours = _run("hostprep", tmp_path, playbook=ROLE_PLAYBOOK, files=ROLE_FILES)
    theirs = _run("ansible-playbook", tmp_path, playbook=ROLE_PLAYBOOK, files=ROLE_FILES)
    assert ours == theirs
    assert ours["play"] == [["base"], ["app", "base"], ["app"], ["app"]] and ours["base"][0] == "base"
