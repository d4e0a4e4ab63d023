"""ansible-playbook as the oracle of --tags/--skip-tags on include_tasks/include_role (local-connection host).

Ansible selects a dynamic include by its own tags (an include tagged [a] does not run under --tags b, one
tagged `always` always does), and the included tasks do not inherit the include's tags: they get tags
through `apply: {tags: ...}`. The TASK headers, `included:` lines and recap of both tools are compared.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent

ROLE_TASKS = """
- name: r-untagged
  debug: msg=r-untagged
- name: r-b
  debug: msg=r-b
  tags: b
"""

INCLUDED = """
- name: inc-untagged
  debug: msg=inc-untagged
- name: inc-b
  debug: msg=inc-b
  tags: b
"""

PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: include a
      include_tasks: inc.yml
      tags: a
    - name: include always
      include_tasks: inc.yml
      tags: always
    - name: include untagged
      include_tasks: inc.yml
    - name: include apply b
      include_tasks:
        file: inc.yml
        apply:
          tags: b
      tags: b
    - name: include role a
      include_role:
        name: r
      tags: a
    - name: include role untagged
      include_role:
        name: r
    - name: include role apply
      include_role:
        name: r
        apply: {tags: [c]}
      tags: [c]
    - name: import role d
      import_role:
        name: r
      tags: d
"""


def _project(tmp: Path) -> Path:
    (tmp / "roles" / "r" / "tasks").mkdir(parents=True)
    (tmp / "roles" / "r" / "tasks" / "main.yml").write_text(ROLE_TASKS)
    (tmp / "inc.yml").write_text(INCLUDED)
    (tmp / "site.yml").write_text(PLAYBOOK)
    (tmp / "inv.ini").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    return tmp


def _run(tool: str, work: Path, flags: list[str], strategy: str = "linear") -> str:
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(work / ".tmp"),
           "ANSIBLE_HOME": str(work / ".ansible"), "ANSIBLE_RETRY_FILES_ENABLED": "0", "ANSIBLE_STRATEGY": strategy}
    env.pop("HOSTPREP_STRATEGY", None)
    args = ["apply", "--progress", "lines"] if tool == "hostprep" else []
    proc = subprocess.run([str(BIN / tool), *args, "-i", "inv.ini", "site.yml", *flags], capture_output=True,
                          text=True, cwd=work, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _shown(stdout: str) -> tuple[list[str], str]:
    lines = [re.sub(r"\s*\*+$", "", line) for line in stdout.splitlines() if line.startswith(("TASK [", "included:"))]
    recap = re.findall(r"^h1\s+:.*$", stdout, re.M)
    return lines, " ".join(recap[-1].split()) if recap else ""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _project(tmp_path_factory.mktemp("include-tags"))


@pytest.mark.parametrize("flags,strategy", [(["--tags", "b"], "linear"), (["--tags", "a,d"], "linear"),
                                            (["--skip-tags", "b"], "linear"), (["--tags", "c"], "free")])
def test_includes_are_selected_by_their_own_tags_as_in_ansible(project: Path, flags: list[str],
                                                               strategy: str) -> None:
    ours = _shown(_run("hostprep", project, flags, strategy))
    theirs = _shown(_run("ansible-playbook", project, flags, strategy))
    assert ours == theirs, (ours, theirs)
    assert theirs[0], theirs  # something ran: the comparison is not of two empty outputs


def test_import_role_runs_its_dependencies_first_as_ansible_does(tmp_path: Path) -> None:
    """import_role p (meta: dependencies [d]) runs d then p; an include_role of p after it runs p only."""
    for role, text in (("p", "- debug: msg=p\n"), ("d", "- debug: msg=d\n")):
        (tmp_path / "roles" / role / "tasks").mkdir(parents=True)
        (tmp_path / "roles" / role / "tasks" / "main.yml").write_text(text)
    (tmp_path / "roles" / "p" / "meta").mkdir()
    (tmp_path / "roles" / "p" / "meta" / "main.yml").write_text("dependencies: [d]\n")
    (tmp_path / "site.yml").write_text("- hosts: all\n  gather_facts: false\n  tasks:\n"
                                       "    - import_role: {name: p}\n    - include_role: {name: p}\n")
    (tmp_path / "inv.ini").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable}\n")

    def shown(tool: str) -> list[str]:
        out = _run(tool, tmp_path, [])
        return re.findall(r'^(TASK \[.*?\]|included: .*|\s+"msg": .*)$', out, re.M)

    theirs = shown("ansible-playbook")
    assert shown("hostprep") == theirs
    assert [line.strip() for line in theirs if "msg" in line] == ['"msg": "d"', '"msg": "p"', '"msg": "p"']


def test_include_role_runs_its_dependencies_first_as_ansible_does(tmp_path: Path) -> None:
    """include_role p (meta: dependencies [d, e], e depending on d) runs d, e, then p, and notifies d's handler; a
    second include_role of p runs p only (its dependencies ran already); a loop over two roles runs each one's."""
    for role, text in (("p", "- debug: msg=p\n"), ("d", "- debug: msg=d\n  changed_when: true\n  notify: hd\n"),
                       ("e", "- debug: msg=e\n"), ("q", "- debug: msg=q\n")):
        (tmp_path / "roles" / role / "tasks").mkdir(parents=True)
        (tmp_path / "roles" / role / "tasks" / "main.yml").write_text(text)
    for role, meta in (("p", "dependencies: [d, e]\n"), ("e", "dependencies: [d]\n"),
                       ("q", "dependencies: [{role: d, x: 1}]\n")):
        (tmp_path / "roles" / role / "meta").mkdir()
        (tmp_path / "roles" / role / "meta" / "main.yml").write_text(meta)
    (tmp_path / "roles" / "d" / "handlers").mkdir()
    (tmp_path / "roles" / "d" / "handlers" / "main.yml").write_text("- name: hd\n  debug: msg=handler-d\n")
    (tmp_path / "site.yml").write_text("- hosts: all\n  gather_facts: false\n  tasks:\n"
                                       "    - include_role: {name: p}\n    - include_role: {name: p}\n"
                                       "    - include_role: {name: '{{ item }}'}\n      loop: [q, e]\n")
    (tmp_path / "inv.ini").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable}\n")

    def shown(tool: str) -> list[str]:
        out = _run(tool, tmp_path, [])
        return re.findall(r'^(TASK \[.*?\]|RUNNING HANDLER \[.*?\]|included: .*|\s+"msg": .*)$', out, re.M)

    theirs = shown("ansible-playbook")
    assert shown("hostprep") == theirs
    assert [line.strip() for line in theirs if "msg" in line][:4] == ['"msg": "d"', '"msg": "e"', '"msg": "p"',
                                                                       '"msg": "p"'], theirs
