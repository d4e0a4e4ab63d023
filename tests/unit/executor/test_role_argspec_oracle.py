"""ansible-playbook as the oracle of role argument specs (meta/argument_specs.yml, meta/main.yml's
argument_specs), on a local-connection host.

At a role's start (roles:, import_role, include_role) Ansible runs an implicit task, "Validating arguments
against arg spec 'ENTRY' - SHORT_DESCRIPTION" (ENTRY: main or tasks_from's name; tagged always), which checks
the variables the spec names and the role's params: required, type (str/int/bool/list/dict/path/raw, list
elements), choices, params the spec lacks; it fails the host with "Validation of arguments failed: ...".
A spec's default is not set as a variable; `rolespec_validate: false` turns the check off. Compared: the
TASK headers, the ok/fatal lines (the failure's message), the recap.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent

SPECS = """
argument_specs:
  main:
    short_description: the s role
    options:
      s_port: {type: int, required: true}
      s_mode: {type: str, choices: [a, b], default: a}
      s_flag: {type: bool}
      s_list: {type: list, elements: int}
      s_dict: {type: dict}
      s_path: {type: path}
      s_raw: {type: raw}
      s_def: {type: str, default: from-spec}
  other:
    options:
      o_need: {required: true}
"""

META_MAIN = """
dependencies: []
argument_specs:
  main:
    options:
      m_names: {type: list, elements: str, required: true}
"""

NESTED = """
argument_specs:
  main:
    short_description: nested options
    options:
      n_server:
        type: dict
        aliases: [n_srv]
        options:
          host: {type: str, required: true, aliases: [address]}
          port: {type: int, default: 80}
          mode: {choices: [a, b]}
          tls: {type: bool}
          cert: {type: path}
          key: {type: path}
          password: {type: str}
        mutually_exclusive: [[cert, password]]
        required_together: [[cert, key]]
        required_if: [[tls, true, [cert, password], true]]
        required_by: {key: cert}
      n_users:
        type: list
        elements: dict
        options:
          name: {required: true}
          uid: {type: int}
          shell: {choices: [bash, sh]}
          extra:
            type: dict
            options:
              level: {type: int, required: true}
      n_opt:
        type: dict
        apply_defaults: true
        options:
          level: {type: int, default: 3}
"""

NESTED_PASSING = """
- hosts: all
  gather_facts: false
  tasks:
    - include_role: {name: n}
      vars:
        n_server: {address: h, port: "81", tls: "yes", cert: /c, key: /k}
        n_users: [{name: a, uid: "1", extra: {level: "2"}}, {name: b, shell: sh}]
    - include_role: {name: n}
      vars: {n_opt: {level: 5}}
- hosts: all
  gather_facts: false
  roles:
    - {role: n, n_srv: {host: h}}
"""

NESTED_FAILING = {
    "a missing and a mistyped nested option": "n_server: {port: x, mode: c}",
    "list elements: types, required, choices, a deeper level": "n_users: [{name: a, uid: x}, {shell: zsh}, "
                                                              "{name: c, extra: {}}, notadict]",
    "mutually exclusive, required together, required if, required by": "n_server: {host: h, cert: /c, password: p}",
    "required_if any of them, required_by": "n_server: {host: h, tls: true, key: /k}",
    "an unknown nested key and an alias": "n_server: {address: h, colour: red}",
}

SHOW = ("- name: show\n  debug: {msg: \"{{ s_port | default('-') }} {{ s_def | default('UNSET') }} "
        "{{ s_path | default('nopath') }} {{ s_list | default('nolist') }}\"}\n")

PASSING = """
- hosts: all
  gather_facts: false
  tasks:
    - include_role: {name: s}
      vars: {s_port: "80", s_path: "~/x", s_list: ["1", 2], s_flag: "yes", s_dict: "a=1 b=2"}
    - include_role: {name: s, rolespec_validate: false}
      vars: {s_port: nope}
    - import_role: {name: s}
      vars: {s_port: 2, unknown_var: 1}
    - import_role: {name: s, rolespec_validate: false}
      vars: {s_port: 9}
    - include_role: {name: s, tasks_from: other}
      vars: {o_need: 1}
    - include_role: {name: m}
      vars: {m_names: [a, b]}
- hosts: all
  gather_facts: false
  vars: {s_port: "{{ 40 + 2 }}"}
  roles: [s]
"""

FAILING = {
    "types and choices": """
    - include_role: {name: s}
      vars: {s_port: eighty, s_mode: c, s_list: [x], s_dict: notadict, s_flag: [1]}
""",
    "a string that is no boolean": """
    - include_role: {name: s}
      vars: {s_port: 1, s_flag: maybe, s_mode: [a]}
""",
    "missing required": """
    - include_role: {name: s}
      vars: {s_mode: b}
""",
    "tasks_from's entry point": """
    - import_role: {name: s, tasks_from: other}
""",
    "meta/main.yml's spec": """
    - include_role: {name: m}
      vars: {m_names: {not: a list}}
""",
}

ROLES_PARAM = """
- hosts: all
  gather_facts: false
  roles:
    - {role: s, s_port: 3, extra: 1}
"""


def _project(tmp: Path, book: str) -> Path:
    files = {"roles/s/meta/argument_specs.yml": SPECS, "roles/s/tasks/main.yml": SHOW, "roles/s/tasks/other.yml": SHOW,
             "roles/m/meta/main.yml": META_MAIN, "roles/n/meta/argument_specs.yml": NESTED,
             "roles/n/tasks/main.yml": "- debug: {msg: '{{ n_server | default(0) }} {{ n_opt | default(0) }}'}\n",
             "roles/m/tasks/main.yml": "- debug: {msg: '{{ m_names }}'}\n",
             "site.yml": book,
             "inv.ini": f"h1 ansible_connection=local ansible_python_interpreter={sys.executable}\n"}
    for name, text in files.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(text)
    return tmp


def _normal(value: object) -> str:
    """Ansible's own words where they cannot be hostprep's: its internal classes (`<class '..._AnsibleTaggedList'>`,
    2.16's AnsibleUnicode) and the valid booleans listed in its set's (hash) order."""
    text = re.sub(r"<class '[^']*'>", "<class>", str(value))
    return re.sub(r"Valid booleans include: ([^\n\"\]]*)",
                  lambda m: "Valid booleans: " + " ".join(sorted(m.group(1).split(", "))), text)


def _run(tool: Path, work: Path, *flags: str) -> tuple[list[str], list[str], str]:
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(work / ".tmp"),
           "ANSIBLE_HOME": str(work / ".ansible"), "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    args = ["apply", "--progress", "lines"] if tool.name == "hostprep" else []
    proc = subprocess.run([str(tool), *args, "-i", "inv.ini", "site.yml", *flags], capture_output=True, text=True,
                          cwd=work, env=env, timeout=300)
    out = proc.stdout
    headers = re.findall(r"^(TASK \[.*?\]|included: .*)", out, re.M)
    results = []
    for line in re.findall(r'^((?:ok|fatal): \[h1\].*|\s+"msg": .*)$', out, re.M):
        if "FAILED! => {" in line:
            data = json.loads(line.split("=> ", 1)[1])
            line = f"{line.split(' =>')[0]} {_normal(data.get('msg'))} {_normal(data.get('argument_errors'))}"
        results.append(line.strip())
    recap = re.findall(r"^h1\s+:.*$", out, re.M)
    return headers, results, " ".join(recap[-1].split()) if recap else out[-2000:] + proc.stderr[-2000:]


def _compare(tmp: Path, book: str, *flags: str) -> tuple:
    work = _project(tmp, book)
    ours, theirs = _run(BIN / "hostprep", work, *flags), _run(BIN / "ansible-playbook", work, *flags)
    assert ours == theirs, (ours, theirs)
    return theirs


def test_passing_specs_run_the_implicit_task_as_ansible_does(tmp_path: Path) -> None:
    headers, results, recap = _compare(tmp_path, PASSING)
    assert headers.count("TASK [s : Validating arguments against arg spec 'main' - the s role]") == 3, headers
    assert "TASK [s : Validating arguments against arg spec 'other']" in headers
    assert '"msg": "80 UNSET ~/x [\'1\', 2]"' in results  # the spec converts nothing, sets no default
    assert "failed=0" in recap, recap


@pytest.mark.parametrize("case", sorted(FAILING))
def test_a_failing_spec_fails_the_host_with_ansibles_message(tmp_path: Path, case: str) -> None:
    book = "- hosts: all\n  gather_facts: false\n  tasks:\n" + FAILING[case].strip("\n")
    _, results, recap = _compare(tmp_path, book + "\n")
    assert any("Validation of arguments failed" in r for r in results), results
    assert "failed=1" in recap, recap


def test_role_params_outside_the_spec_and_the_tags_always(tmp_path: Path) -> None:
    _, results, recap = _compare(tmp_path, ROLES_PARAM, "--tags", "nothing_tagged")
    assert any("extra. Supported parameters include" in r for r in results), results
    assert "failed=1" in recap


def test_nested_options_aliases_and_relations_pass_as_in_ansible(tmp_path: Path) -> None:
    headers, results, recap = _compare(tmp_path, NESTED_PASSING)
    assert headers.count("TASK [n : Validating arguments against arg spec 'main' - nested options]") == 3, headers
    assert "failed=0" in recap, recap


@pytest.mark.parametrize("case", sorted(NESTED_FAILING))
def test_nested_options_fail_with_ansibles_messages(tmp_path: Path, case: str) -> None:
    book = ("- hosts: all\n  gather_facts: false\n  tasks:\n    - include_role: {name: n}\n      vars:\n        "
            + NESTED_FAILING[case] + "\n")
    _, results, recap = _compare(tmp_path, book)
    assert any("Validation of arguments failed" in r for r in results), results
    assert "failed=1" in recap, recap
