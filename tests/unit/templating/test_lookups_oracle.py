"""The with_* lookups public roles use, checked against ansible-playbook as an oracle.

One local playbook registers the items every loop saw; hostprep and ansible-playbook must write the
same projection. Plus unit checks of the error cases (which Ansible reports as errors too).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hostprep.errors import InputError
from hostprep.templating.lookups import sequence, subelements

BIN = Path(sys.executable).parent

PLAYBOOK = """
- hosts: all
  gather_facts: false
  vars:
    users:
      - {name: alice, keys: [k1, k2], mail: {to: [a1]}}
      - {name: bob, keys: [k3], mail: {to: []}}
      - {name: carol}
  tasks:
    - {debug: {msg: "{{ item.0.name }}:{{ item.1 }}"}, with_subelements: [ "{{ users }}", keys, {skip_missing: true}],
       register: sub}
    - {debug: {msg: "{{ item.0.name }}:{{ item.1 }}"}, with_subelements: [ "{{ users[:2] }}", mail.to],
       register: subdot}
    - {debug: {msg: "{{ item.0.name }}-{{ item.1 }}"},
       loop: "{{ users | subelements('keys', skip_missing=True) }}", register: subf}
    - {debug: {msg: "{{ item.0 }}{{ item.1 }}"}, with_nested: [[a, b], [1, 2, 3]], register: nested}
    - {debug: {msg: "{{ item }}"}, with_sequence: start=1 end=9 stride=3 format=host%02d, register: seq}
    - {debug: {msg: "{{ item }}"}, with_sequence: count=3, register: seqc}
    - {debug: {msg: "{{ item }}"}, with_sequence: "4-8/2:n%x", register: seqs}
    - {debug: {msg: "{{ item.0 }}={{ item.1 }}"}, with_together: [[a, b, c], [1, 2]], register: together}
    - {debug: {msg: "{{ item.key }}={{ item.value }}"}, with_dict: {x: 1, y: 2}, register: dict}
    - {debug: {msg: "{{ item.0 }}:{{ item.1 }}"}, with_indexed_items: [p, q], register: indexed}
    - {debug: {msg: "{{ item | basename }}"}, with_fileglob: ["{{ playbook_dir }}/files/*.conf"], register: glob}
    - debug: {msg: "{{ item | basename }}"}
      with_first_found:
        - files: [missing.yml, second.yml, third.yml]
          paths: ["{{ playbook_dir }}/vars"]
      register: first
    - debug: {msg: "{{ item }}"}
      with_first_found:
        - files: ["{{ playbook_dir }}/vars/missing-9.yml"]
          skip: true
      register: firstskip
    - {debug: {msg: "{{ item }}"}, with_random_choice: [only], register: rnd}
    - copy:
        dest: "{{ out }}"
        content: >-
          {{ {'sub': sub.results | map(attribute='msg') | list,
              'subdot': subdot.results | map(attribute='msg') | list,
              'subf': subf.results | map(attribute='msg') | list,
              'nested': nested.results | map(attribute='msg') | list,
              'seq': seq.results | map(attribute='msg') | list,
              'seqc': seqc.results | map(attribute='msg') | list,
              'seqs': seqs.results | map(attribute='msg') | list,
              'together': together.results | map(attribute='msg') | list,
              'dict': dict.results | map(attribute='msg') | list,
              'indexed': indexed.results | map(attribute='msg') | list,
              'glob': glob.results | map(attribute='msg') | list | sort,
              'first': first.results | map(attribute='msg') | list,
              'firstskip': [firstskip.skipped | default('-'), firstskip.results | length],
              'rnd': rnd.results | map(attribute='msg') | list} | to_json(sort_keys=True) }}
"""


def _run(tool: str, tmp: Path) -> tuple[subprocess.CompletedProcess, dict]:
    work = tmp / tool
    (work / "files").mkdir(parents=True)
    (work / "vars").mkdir()
    for name in ("a.conf", "b.conf", "c.txt"):
        (work / "files" / name).write_text("x\n")
    for name in ("second.yml", "third.yml"):
        (work / "vars" / name).write_text("{}\n")
    (work / "site.yml").write_text(textwrap.dedent(PLAYBOOK))
    out = work / "out.json"
    (work / "inv.ini").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable} "
                                  f"out={out}\n")
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(work / ".tmp"),
           "ANSIBLE_HOME": str(work / ".ansible"), "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    args = ["apply"] if tool == "hostprep" else []
    proc = subprocess.run([str(BIN / tool), *args, "-i", str(work / "inv.ini"), str(work / "site.yml")],
                          capture_output=True, text=True, cwd=work, env=env, timeout=300)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, json.loads(out.read_text())


def test_with_lookups_give_the_items_ansible_gives(tmp_path: Path) -> None:
    ours, our_values = _run("hostprep", tmp_path)
    theirs, their_values = _run("ansible-playbook", tmp_path)
    assert ours.returncode == theirs.returncode == 0, ours.stdout[-2000:] + theirs.stdout[-2000:]
    assert our_values == their_values
    assert our_values["sub"] == ["alice:k1", "alice:k2", "bob:k3"]
    assert our_values["seq"] == ["host01", "host04", "host07"] and our_values["glob"] == ["a.conf", "b.conf"]


@pytest.mark.parametrize("call,message", [
    (lambda: subelements([{"name": "x"}], "keys"), "could not find 'keys'"),
    (lambda: subelements([{"keys": "notalist"}], "keys"), "should point to a list"),
    (lambda: subelements("text", "keys"), "must be a list or a dict"),
    (lambda: sequence("start=5 end=1"), "negative stride"),
    (lambda: sequence("count=3 end=4"), "both count and end"),
    (lambda: sequence("start=1"), "count or end"),
    (lambda: sequence("bogus=1 end=2"), "unknown parameter"),
])
def test_lookup_errors_are_input_errors(call, message: str) -> None:
    with pytest.raises(InputError, match=message):
        call()


def test_subelements_skips_skipped_results_and_takes_dict_values() -> None:
    assert subelements({"skipped": True}, "k") == []
    assert subelements({"a": {"k": [1]}, "b": {"k": [2], "skipped": True}}, "k") == [[{"k": [1]}, 1]]
