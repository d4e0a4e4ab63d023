"""Molecule's converge/idempotence output names the task that changed or failed on each host: the
`Show what hostprep did` task of molecule/shared/converge.yml, run by ansible-playbook on sample output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def test_converge_shows_changed_and_failed_tasks_with_their_names(tmp_path: Path) -> None:
    (play,) = yaml.safe_load((ROOT / "molecule/shared/converge.yml").read_text())
    show = next(t for t in play["tasks"] if t["name"] == "Show what hostprep did")
    lines = ["", "PLAY [all] ***", "", "TASK [docker : Install Docker] ***", "ok: [el9]", "changed: [el7]", "",
             "TASK [docker : Start] ***", "fatal: [el9]: FAILED! => {\"msg\": \"x\"}", "", "PLAY RECAP ***",
             "el7 : ok=2 changed=1", "el9 : ok=1 failed=1"]
    book = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": {"apply": {"stdout_lines": lines}, "molecule_yml": {"platforms": [{"name": "el7"},
                                                                                     {"name": "el9"}]}},
             "tasks": [{**show, "register": "shown"},
                       {"copy": {"dest": str(tmp_path / "out.json"), "content": "{{ shown.msg | to_json }}"}}]}]
    (tmp_path / "site.yml").write_text(yaml.safe_dump(book))
    env = {**os.environ, "ANSIBLE_HOME": str(tmp_path / ".a"), "ANSIBLE_LOCAL_TEMP": str(tmp_path / ".t")}
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "site.yml",
                           "-e", f"ansible_python_interpreter={sys.executable}"], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads((tmp_path / "out.json").read_text()) == [
        "changed: [el7] [docker : Install Docker]", "fatal: [el9]: FAILED! => {\"msg\": \"x\"} [docker : Start]",
        "PLAY RECAP ***", "el7 : ok=2 changed=1", "el9 : ok=1 failed=1"]
