"""Lazy validation as Ansible does it: what is reached only at run time is an error only when reached.

Dynamically included files and roles, arguments given as `{{ x | default(omit) }}` and modules Ansible has
but hostprep lacks are refused when, and only when, their task runs (naming file, line and module); what is
statically known (syntax, keywords, imports, the arguments of modules hostprep has, typos) stays a load
error. The run-time half runs real playbooks through `hostprep apply` on `ansible_connection: local` hosts.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hostprep.errors import InputError
from hostprep.playbook.loader import load_playbook

BIN = Path(sys.executable).parent / "hostprep"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def apply(tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    inv = write(tmp / "inv.ini", "[local]\nh1 ansible_connection=local\n")
    return subprocess.run([str(BIN), "apply", "-i", str(inv), str(tmp / "site.yml"), *extra],
                          capture_output=True, text=True, cwd=tmp, timeout=120)


MULTI_OS_ROLE = {
    "roles/multi/tasks/main.yml": """
        - include_tasks: setup-Suse.yml
          when: os == 'Suse'
        - include_tasks: setup-{{ os }}.yml
        - name: Install with an option only some hosts set
          copy:
            dest: "{out}/copied"
            content: "x\\n"
            not_an_option_of_copy: "{{ extra_opt | default(omit) }}"
        - name: A module hostprep lacks, in a branch not taken
          community.general.zypper_repository:
            name: repo
          when: os == 'Suse'
        - include_role:
            name: missing_role
          when: os == 'Suse'
    """,
    "roles/multi/tasks/setup-Suse.yml": """
        - community.general.zypper:
            name: docker
           bad: [
    """,
    "roles/multi/tasks/setup-RedHat.yml": """
        - command: touch {out}/redhat
          args:
            creates: "{out}/redhat"
    """,
}


def multi_os(tmp: Path) -> Path:
    for rel, text in MULTI_OS_ROLE.items():
        write(tmp / rel, text.replace("{out}", str(tmp)))
    return write(tmp / "site.yml", "- hosts: all\n  gather_facts: false\n  vars: {os: RedHat}\n  roles: [multi]\n")


def test_a_multi_os_role_loads_and_runs_its_own_branch(tmp_path: Path) -> None:
    multi_os(tmp_path)
    proc = apply(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "redhat").exists() and (tmp_path / "copied").read_text() == "x\n"


def test_the_branch_not_taken_fails_when_reached_naming_file_line_and_module(tmp_path: Path) -> None:
    multi_os(tmp_path)
    proc = apply(tmp_path, "-e", "os=Suse")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # the first include runs setup-Suse.yml: its YAML error is reported then, naming the file and include
    assert "setup-Suse.yml:4" in proc.stdout and "main.yml:2" in proc.stdout, proc.stdout
    assert "TASK [multi : include_tasks]" in proc.stdout, proc.stdout


def test_an_omitted_argument_with_a_value_is_refused_when_reached(tmp_path: Path) -> None:
    multi_os(tmp_path)
    write(tmp_path / "roles/multi/tasks/setup-Suse.yml", "- debug: msg=suse\n")
    proc = apply(tmp_path, "-e", "extra_opt=1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "not_an_option_of_copy" in proc.stdout and "main.yml:6" in proc.stdout, proc.stdout


def test_a_lacking_module_is_refused_when_reached(tmp_path: Path) -> None:
    write(tmp_path / "site.yml", """
        - hosts: all
          gather_facts: false
          tasks:
            - debug: msg=before
            - ansible.posix.synchronize: src=a dest=b
              when: go | default(false)
    """)
    assert apply(tmp_path).returncode == 0
    proc = apply(tmp_path, "-e", "go=true")
    assert proc.returncode == 1
    assert "module 'ansible.posix.synchronize' is not supported by hostprep" in proc.stdout, proc.stdout
    assert "site.yml:6" in proc.stdout, proc.stdout


@pytest.mark.parametrize("task,key,message,line", [
    ("- copyy: dest=/x content=y\n", "copyy", "close names: copy", 1),
    ("- copy: dest=/x content=y bogus=1\n", "bogus", "unsupported argument", 1),
    ("- copy: dest=/x content=y\n  bogus: 1\n", "bogus", "unknown task keyword or module", 2),
    ("- copy: dest=/x content=y\n  with_itemz: [1]\n", "with_itemz", "unknown task keyword or module", 2),
])
def test_statically_known_mistakes_stay_load_errors(tmp_path: Path, task: str, key: str, message: str,
                                                    line: int) -> None:
    write(tmp_path / "roles/r/tasks/main.yml", task)
    book = write(tmp_path / "site.yml", "- hosts: all\n  roles: [r]\n")
    with pytest.raises(InputError) as info:
        load_playbook(book)
    assert key in str(info.value) and message in str(info.value), info.value
    assert str(info.value.file).endswith("main.yml") and info.value.line == line


def test_included_files_that_load_are_still_checked_statically(tmp_path: Path) -> None:
    write(tmp_path / "inc.yml", "- debug: msg=ok\n")
    book = write(tmp_path / "site.yml", "- hosts: all\n  tasks:\n    - include_tasks: inc.yml\n")
    (play,) = load_playbook(book).plays
    (include,) = play.tasks
    assert include.included and include.included[0].module == "debug"


def test_templated_import_name_from_role_defaults_and_extra_vars(tmp_path: Path) -> None:
    write(tmp_path / "roles/r/defaults/main.yml", "flavor: a\n")
    write(tmp_path / "roles/r/tasks/main.yml", "- import_tasks: \"{{ which | default(flavor) }}.yml\"\n")
    write(tmp_path / "roles/r/tasks/a.yml", "- debug: msg=a\n")
    write(tmp_path / "roles/r/tasks/b.yml", "- debug: msg=b\n")
    book = write(tmp_path / "site.yml", "- hosts: all\n  roles: [r]\n")
    (play,) = load_playbook(book).plays
    assert play.roles[0].tasks[0].args == {"msg": "a"}
    (play,) = load_playbook(book, extra_vars={"which": "b"}).plays
    assert play.roles[0].tasks[0].args == {"msg": "b"}
    write(tmp_path / "roles/r/tasks/main.yml", "- import_tasks: \"{{ inventory_hostname }}.yml\"\n")
    with pytest.raises(InputError, match="can only use role defaults/vars and extra vars"):
        load_playbook(book)


def test_notify_naming_no_handler_loads(tmp_path: Path) -> None:
    # as in Ansible, an error only when a changed task notifies it (test_notify_oracle.py), never at load time
    book = write(tmp_path / "site.yml", "- hosts: all\n  tasks:\n    - set_fact: {a: 1}\n      notify: nobody\n")
    load_playbook(book)
    write(tmp_path / "site.yml", "- hosts: all\n  tasks:\n    - command: ls\n      notify: nobody\n"
                                 "      changed_when: true\n")
    load_playbook(book)
