"""ansible-playbook as an oracle: the same local playbook run by hostprep and by ansible-playbook must
produce the same registered values (projected to what both define) and the same recap counts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

BIN = Path(sys.executable).parent

PLAYBOOK = """
- hosts: all
  gather_facts: false
  vars:
    words: [alpha, beta, gamma]
    ports: {http: 80, https: 443}
  tasks:
    - name: loop with register and index_var
      command: echo {{ item }}-{{ idx }}
      loop: "{{ words }}"
      loop_control: {index_var: idx, label: "{{ item }}"}
      register: echoed
      changed_when: item != 'beta'
    - name: with_dict
      set_fact:
        "port_{{ item.key }}": "{{ item.value }}"
      with_dict: "{{ ports }}"
    - name: with_indexed_items
      debug:
        msg: "{{ item.0 }}={{ item.1 }}"
      with_indexed_items: "{{ words }}"
      register: indexed
    - name: skipped by when
      command: echo never
      when: words | length > 5
      register: skipped_one
    - name: failure ignored
      command: /bin/false
      ignore_errors: true
      register: ignored
    - name: failed_when on output
      shell: echo 7
      register: seven
      failed_when: seven.stdout | int != 7
      changed_when: false
    - block:
        - name: boom
          fail: {msg: boom}
      rescue:
        - set_fact:
            rescued_from: "{{ ansible_failed_task.name }}"
            rescued_msg: "{{ ansible_failed_result.msg }}"
    - name: until retries
      shell: "echo $(( $(cat {{ counter }} 2>/dev/null || echo 0) + 1 )) > {{ counter }}; cat {{ counter }}"
      register: tries
      until: tries.stdout | int >= 3
      retries: 5
      delay: 0
      changed_when: false
    - name: write projection
      copy:
        dest: "{{ out }}"
        content: >-
          {{ {'echo': echoed.results | map(attribute='stdout') | list,
              'echo_changed': echoed.results | map(attribute='changed') | list,
              'echo_items': echoed.results | map(attribute='item') | list,
              'echo_changed_total': echoed.changed,
              'ports': [port_http, port_https],
              'indexed': indexed.results | map(attribute='msg') | list,
              'skipped': skipped_one.skipped | default(false),
              'ignored_rc': ignored.rc, 'ignored_failed': ignored.failed,
              'seven': seven.stdout, 'rescued': [rescued_from, rescued_msg],
              'tries': tries.stdout, 'attempts': tries.attempts} | to_json(sort_keys=True) }}
"""


def _run(tool: str, tmp: Path, tag: str) -> tuple[subprocess.CompletedProcess, dict]:
    work = tmp / tag
    work.mkdir()
    book = work / "site.yml"
    book.write_text(textwrap.dedent(PLAYBOOK))
    out, counter = work / "out.json", work / "counter"
    (work / "inv.ini").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable} "
                                  f"out={out} counter={counter}\n")
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(work / ".tmp"),
           "ANSIBLE_HOME": str(work / ".ansible"), "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    args = ["apply"] if tool == "hostprep" else []
    proc = subprocess.run([str(BIN / tool), *args, "-i", str(work / "inv.ini"), str(book)], capture_output=True,
                          text=True, cwd=work, env=env, timeout=300)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, json.loads(out.read_text())


def _recap(stdout: str) -> dict[str, int]:
    line = next(x for x in stdout.splitlines() if re.match(r"^h1\s+:", x))
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def test_same_registered_values_and_recap_as_ansible_playbook(tmp_path: Path) -> None:
    ours, our_values = _run("hostprep", tmp_path, "hostprep")
    theirs, their_values = _run("ansible-playbook", tmp_path, "ansible")
    assert ours.returncode == theirs.returncode == 0, ours.stdout[-2000:] + theirs.stdout[-2000:]
    assert our_values == their_values
    assert our_values["echo"] == ["alpha-0", "beta-1", "gamma-2"] and our_values["attempts"] == 3
    assert _recap(ours.stdout) == _recap(theirs.stdout)


BECOME_BOOK = """
- hosts: all
  gather_facts: false
  become: true
  tasks:
    - {command: id -un, register: plain}
    - {command: id -un, become_user: daemon, register: kw_user}
    - {command: id -un, become: false, register: kw_off}
    - command: id -un
      vars: {ansible_become_user: bin}
      become_user: daemon
      register: var_over_kw
    - copy:
        dest: "{{ out }}"
        content: "{{ [plain, kw_user, kw_off, var_over_kw] | map(attribute='stdout') | list | to_json }}"
"""


def test_become_variables_beat_keywords_as_in_ansible(tmp_path: Path) -> None:
    """Connection variables (ansible_become*) override play/task keywords; keywords apply otherwise."""
    assert os.geteuid() == 0, "needs root (sudo to other users without a password)"
    results = {}
    # the tasks of one host run as `nobody`: its output goes to a world-writable dir under /tmp
    shared = Path(tempfile.mkdtemp(prefix="hostprep-oracle-"))
    try:
        shared.chmod(0o777)
        for tool in ("hostprep", "ansible-playbook"):
            work = tmp_path / tool
            work.mkdir()
            out = shared / tool
            out.mkdir()
            out.chmod(0o777)
            (work / "site.yml").write_text(textwrap.dedent(BECOME_BOOK))
            (work / "inv.ini").write_text(
                f"vars_win ansible_connection=local ansible_python_interpreter=/usr/bin/python3 out={out}/a.json "
                f"ansible_become=true ansible_become_user=nobody\n"
                f"keywords ansible_connection=local ansible_python_interpreter=/usr/bin/python3 out={out}/b.json\n")
            env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(work / ".tmp"),
                   "ANSIBLE_HOME": str(work / ".ansible"), "ANSIBLE_RETRY_FILES_ENABLED": "0",
                   "ANSIBLE_PIPELINING": "1"}
            args = ["apply"] if tool == "hostprep" else []
            proc = subprocess.run([str(BIN / tool), *args, "-i", str(work / "inv.ini"), str(work / "site.yml")],
                                  capture_output=True, text=True, cwd=shared, env=env, timeout=300)
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
            results[tool] = [json.loads((out / f).read_text()) for f in ("a.json", "b.json")]
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    assert results["hostprep"] == results["ansible-playbook"]
    assert results["hostprep"][1] == ["root", "daemon", "root", "bin"]
