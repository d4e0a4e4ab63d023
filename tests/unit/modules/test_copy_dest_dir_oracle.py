"""copy/template into a directory that is not there, with ansible-playbook as the oracle (local connection).

Ansible fails the task with "Destination directory D does not exist" (changed false, the source's checksum)
and writes nothing; a `dest` ending in `/` is a directory it makes. hostprep used to end in an internal
error from the upload (local) or a shell error (ssh).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

BIN = Path(sys.executable).parent

PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - copy: {content: "x\\n", dest: "{{ out }}/missing/file.txt"}
      register: missing
      ignore_errors: true
    - template: {src: t.j2, dest: "{{ out }}/missing2/t.txt"}
      register: missing_t
      ignore_errors: true
    - copy: {src: f.txt, dest: "{{ out }}/made/"}
      register: made
    - shell: find {{ out }} | sort
      register: tree
    - copy:
        dest: "{{ out }}/results.json"
        content: "{{ {'missing': [missing.failed, missing.changed, missing.msg, missing.checksum],
                      'missing_t': [missing_t.failed, missing_t.msg],
                      'made': [made.changed, made.dest],
                      'tree': tree.stdout_lines} | to_json }}"
"""


def _run(tool: str, tmp: Path, book: str = PLAYBOOK, *extra: str) -> dict:
    work = tmp / tool
    out = work / "out"
    out.mkdir(parents=True)
    (work / "t.j2").write_text("t\n")
    (work / "f.txt").write_text("f\n")
    (work / "site.yml").write_text(textwrap.dedent(book))
    (work / "inv.ini").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable}\n"
                                  f"[all:vars]\nout={out}\n")
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(work / ".tmp"),
           "ANSIBLE_HOME": str(work / ".ansible"), "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    args = ["apply", "--progress", "lines"] if tool == "hostprep" else []
    proc = subprocess.run([str(BIN / tool), *args, *extra, "-i", "inv.ini", "site.yml"], capture_output=True, text=True,
                          cwd=work, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = ((out / "results.json") if (out / "results.json").exists() else work / "results.json").read_text()
    text = text.replace(str(out), "OUT")
    return json.loads(text)


CHECK = """
- hosts: all
  gather_facts: false
  tasks:
    - file: {path: "{{ out }}/later", state: directory}
    - copy: {content: "x\\n", dest: "{{ out }}/later/f.txt"}
      register: later
    - copy:
        dest: "{{ out }}/../results.json"
        content: "{{ {'later': [later.changed, later.failed | default(false)]} | to_json }}"
      check_mode: false
"""


def test_in_check_mode_a_directory_an_earlier_task_would_make_is_no_failure(tmp_path: Path) -> None:
    ours, theirs = _run("hostprep", tmp_path, CHECK, "--check"), _run("ansible-playbook", tmp_path, CHECK, "--check")
    assert theirs == {"later": [True, False]}, theirs
    assert ours == theirs


def test_copy_into_a_missing_directory_fails_as_ansible_and_dest_slash_makes_it(tmp_path: Path) -> None:
    ours, theirs = _run("hostprep", tmp_path), _run("ansible-playbook", tmp_path)
    assert theirs["missing"][:3] == [True, False, "Destination directory OUT/missing does not exist"], theirs
    assert ours == theirs
