"""ansible-playbook as the oracle of where a role's variables are seen (local-connection host).

Ansible (DEFAULT_PRIVATE_ROLE_VARS false): the vars and defaults of a `roles:` role and of an import_role are
the play's, seen by every task of the play (pre_tasks too: the play loads them); an include_role's are its
own (public: false), unless public: true, then every later task sees them; a later play sees none. Role
vars are over play vars and inventory vars; role defaults under inventory vars; the last role loaded wins.
The same in ansible-core 2.16 and current. Each task prints the variables it sees; both tools must agree.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
ROLES = ("ra", "ri", "ripub", "rimp")
SEEN = "{{ [%s] | join(',') }}"


def _seen(*names: str) -> str:
    return SEEN % ", ".join(f"{n} | default('U')" for n in names)


PLAYBOOK = f"""
- hosts: all
  gather_facts: false
  vars: {{pv: play}}
  pre_tasks:
    - name: pre
      debug: {{msg: "{_seen('ra_v', 'ra_d', 'rimp_v', 'pv', 'hv', 'dv')}"}}
  roles: [ra]
  tasks:
    - name: t1
      debug: {{msg: "{_seen('ra_v', 'ri_v', 'ripub_v', 'rimp_v', 'rimp_d', 'pv', 'hv', 'dv')}"}}
    - include_role: {{name: ri}}
    - name: t2
      debug: {{msg: "{_seen('ri_v', 'ri_d', 'pv')}"}}
    - include_role: {{name: ripub, public: true}}
    - name: t3
      debug: {{msg: "{_seen('ripub_v', 'ripub_d', 'pv', 'hv', 'dv')}"}}
    - import_role: {{name: rimp}}
    - name: t4
      debug: {{msg: "{_seen('rimp_v', 'rimp_d', 'pv', 'hv', 'dv')}"}}
- hosts: all
  gather_facts: false
  tasks:
    - name: next play
      debug: {{msg: "{_seen('ra_v', 'ripub_v', 'rimp_v', 'pv')}"}}
"""


def _project(tmp: Path) -> Path:
    for role in ROLES:
        for sub, text in (("tasks", f"- debug: {{msg: '{{{{ {role}_v }}}}'}}\n"),
                          ("vars", f"{role}_v: {role}-vars\npv: {role}-vars\nhv: {role}-vars\n"),
                          ("defaults", f"{role}_d: {role}-def\ndv: {role}-def\n")):
            (tmp / "roles" / role / sub).mkdir(parents=True, exist_ok=True)
            (tmp / "roles" / role / sub / "main.yml").write_text(text)
    (tmp / "site.yml").write_text(PLAYBOOK)
    (tmp / "inv.ini").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable} "
                                 "hv=inv dv=inv\n")
    return tmp


def _messages(tool: Path, work: Path) -> list[tuple[str, str]]:
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(work / ".tmp"),
           "ANSIBLE_HOME": str(work / ".ansible"), "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    args = ["apply", "--progress", "lines"] if tool.name == "hostprep" else []
    proc = subprocess.run([str(tool), *args, "-i", "inv.ini", "site.yml"], capture_output=True, text=True,
                          cwd=work, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return re.findall(r"^TASK \[([^\]]+)\].*?\"msg\": \"([^\"]*)\"", proc.stdout, re.M | re.S)


ANSIBLE_216 = Path("/var/cache/hostprep/ansible-2.16/bin/ansible-playbook")


@pytest.mark.parametrize("oracle", [BIN / "ansible-playbook", ANSIBLE_216], ids=["current", "2.16"])
def test_role_variables_are_seen_where_ansible_shows_them(tmp_path: Path, oracle: Path) -> None:
    if not oracle.exists():
        pytest.fail(f"{oracle} missing: scripts/setup.sh installs it")
    work = _project(tmp_path)
    ours, theirs = _messages(BIN / "hostprep", work), _messages(oracle, work)
    assert ours == theirs, (ours, theirs)
    seen = dict(theirs)
    assert seen["pre"] == "ra-vars,ra-def,rimp-vars,rimp-vars,rimp-vars,inv"  # what the comparison covers
    assert seen["t2"] == "U,U,rimp-vars" and seen["t3"].startswith("ripub-vars,ripub-def,ripub-vars")
    assert seen["next play"] == "U,U,U,U"
