"""lineinfile, blockinfile and replace changing a file's owner or group, with and without a content change,
registered under --diff by ansible-playbook and by hostprep on this machine (local connection), compared key
by key: the file attribute diff gives ids (Ansible's set_owner/group_if_different), an attribute-only change
carries no rc/stdout of the chown hostprep ran, and an owner/group given as a number ("0") is an id, not a
name to look up (the local transport's upload failed on it with an internal error)."""

from __future__ import annotations

import grp
import json
import pwd
from pathlib import Path

from tests.unit.config.test_ansible_cfg_oracle import project, run

BOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - {file: {path: "@OUT@/w", state: directory}}
    - {copy: {content: "y\\n", dest: "@OUT@/w/own.txt", owner: root, group: "0"}}
    - {lineinfile: {path: "@OUT@/w/own.txt", line: z, owner: USER}, register: line_own}
    - {lineinfile: {path: "@OUT@/w/own.txt", line: z, group: GROUP}, register: line_grp}
    - {blockinfile: {path: "@OUT@/w/own.txt", block: b, owner: root, group: "0"}, register: block_own}
    - {replace: {path: "@OUT@/w/own.txt", regexp: "^z$", replace: zz, owner: USER}, register: repl_own}
    - copy:
        dest: "@OUT@/out.json"
        content: "{{ {'line_own': line_own, 'line_grp': line_grp, 'block_own': block_own,
          'repl_own': repl_own} | to_json }}"
"""


def test_text_editors_owner_and_group_results_match_ansible(tmp_path: Path) -> None:
    user, group = pwd.getpwuid(65534).pw_name, grp.getgrgid(65534).gr_name
    book = BOOK.replace("USER", user).replace("GROUP", group)
    got = {}
    for tool in ("ansible-playbook", "hostprep"):
        work = project(tmp_path, tool, "[defaults]\n", book)
        proc = run(tool, work, "--diff", "-i", "hosts.ini", "site.yml", "--limit", "h1", cfg=work / "ansible.cfg")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        got[tool] = json.loads((work / "out.json").read_text().replace(str(work), "W"))
    ours, theirs = got["hostprep"], got["ansible-playbook"]
    diffs = [f"{task}.{key}: {ours[task].get(key, '<missing>')!r} != {theirs[task].get(key, '<missing>')!r}"
             for task in theirs for key in sorted(set(ours[task]) | set(theirs[task]))
             if ours[task].get(key, "<missing>") != theirs[task].get(key, "<missing>")]
    assert not diffs, "\n".join(diffs)
    assert ours["line_own"]["changed"] and ours["line_own"]["diff"][1]["after"] == {"owner": 65534}
    assert ours["line_grp"]["diff"][1]["before"] == {"group": 0} and "rc" not in ours["line_grp"]
