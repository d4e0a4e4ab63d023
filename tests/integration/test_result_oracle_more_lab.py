"""Registered results of cron, pip, hostname and file/copy/lineinfile/blockinfile/replace owner and group
changes on twin EL9 lab hosts (issue 19): the same playbook applied under --diff by hostprep to one host and by
ansible-playbook to its twin over SSH, every key compared (times and the output of a pip that hostprep did not
need to run aside). uri with dest is compared on the local host (tests/unit/modules/test_uri_dest_oracle.py).

What the playbook needs comes from the lab: cronie and python3-pip from the lab repository (dnf), a wheel made
here. (dnf's 'Removed: OLD' for an upgrade: tests/unit/modules/test_results_more_logic.py and
test_modules_system_lab.py.)"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.integration.ansible_versions import ansible_bin
from tests.integration.labutil import hostprep, make_wheel, ssh, write_inventory
from tests.integration.test_ansible_twin_lab import _ansible_env
from tests.unit.modules.test_result_oracle import _differences

W = "/tmp/hp-more-oracle"
TASKS = """
- hosts: all
  gather_facts: false
  tasks:
    - {file: {path: W, state: directory}}
    - {group: {name: hpcron, gid: 3950}}
    - {user: {name: hpcron, uid: 3950, group: hpcron, create_home: false}}
    # cron: a user's crontab (crontab -l/-), a variable, another user's, a file in /etc/cron.d
    - {cron: {name: backup, minute: "0", hour: "5,2", job: /usr/local/bin/backup.sh}, register: cron_add}
    - {cron: {name: backup, minute: "0", hour: "5,2", job: /usr/local/bin/backup.sh}, register: cron_again}
    - {cron: {name: backup, minute: "30", job: /usr/local/bin/backup.sh}, check_mode: true, register: cron_check}
    - {cron: {name: backup, minute: "30", job: /usr/local/bin/backup.sh}, register: cron_change}
    - {cron: {name: MAILTO, env: true, job: ops@example.com}, register: cron_env}
    - {cron: {name: off job, special_time: daily, job: /bin/true, disabled: true, user: hpcron}, register: cron_user}
    - {cron: {name: backup, state: absent}, register: cron_absent}
    - {cron: {name: backup, state: absent}, register: cron_absent_again}
    - {cron: {name: rot, cron_file: hp-more, user: root, special_time: hourly, job: /bin/true}, register: cronf_add}
    - {cron: {name: rot, cron_file: hp-more, state: absent}, register: cronf_absent}
    - {cron: {name: rot, cron_file: hp-more, state: absent}, register: cronf_absent_again}
    # pip: the host's python3 -m pip with a local wheel directory (no index)
    - {copy: {src: SRC/wheels/, dest: W/wheels/}}
    - {pip: {name: hostprep-probe-pkg, extra_args: "--no-index --find-links W/wheels"}, register: pip_add}
    - {pip: {name: hostprep-probe-pkg, extra_args: "--no-index --find-links W/wheels"}, register: pip_again}
    - pip: {name: hostprep-probe-pkg, version: "2.0", extra_args: "--no-index --find-links W/wheels"}
      register: pip_version
    - {pip: {name: [hostprep-probe-pkg], state: absent}, register: pip_absent}
    - {pip: {name: [hostprep-probe-pkg], state: absent}, register: pip_absent_again}
    # hostname: a real rename through hostnamed
    - {hostname: {name: rs-renamed.example.test}, register: host_rename}
    - {hostname: {name: rs-renamed.example.test}, register: host_again}
    # owner and group changes as the file attribute diff shows them
    - {copy: {content: "x\\n", dest: W/own.txt}}
    - {file: {path: W/own.txt, owner: hpcron, group: hpcron, mode: "0640"}, register: file_own}
    - {copy: {content: "y\\n", dest: W/own.txt, owner: root, group: "0"}, register: copy_own}
    # the text editors' file attribute diffs: ids too, with a content change and without one
    - {lineinfile: {path: W/own.txt, line: z, owner: hpcron}, register: line_own}
    - {lineinfile: {path: W/own.txt, line: z, group: hpcron}, register: line_grp}
    - {blockinfile: {path: W/own.txt, block: b, owner: root, group: "0"}, register: block_own}
    - {replace: {path: W/own.txt, regexp: "^z$", replace: zz, owner: hpcron}, register: repl_own}
    - copy:
        dest: W/out.json
        content: "{{ {'cron_add': cron_add, 'cron_again': cron_again, 'cron_check': cron_check,
          'cron_change': cron_change, 'cron_env': cron_env, 'cron_user': cron_user, 'cron_absent': cron_absent,
          'cron_absent_again': cron_absent_again, 'cronf_add': cronf_add, 'cronf_absent': cronf_absent,
          'cronf_absent_again': cronf_absent_again, 'pip_add': pip_add, 'pip_again': pip_again,
          'pip_version': pip_version, 'pip_absent': pip_absent, 'pip_absent_again': pip_absent_again,
          'host_rename': host_rename, 'host_again': host_again, 'file_own': file_own,
          'copy_own': copy_own, 'line_own': line_own, 'line_grp': line_grp, 'block_own': block_own,
          'repl_own': repl_own} | to_json }}"
"""
SETUP = "dnf -q -y install cronie python3-pip >/dev/null; rpm -q cronie python3-pip; true"
VOLATILE = {"start", "end", "delta"}


def _comparable(results: dict) -> dict:
    for res in results.values():
        for key in VOLATILE:
            res.pop(key, None)
    return results


def test_more_module_results_match_on_el9_twins(lab, tmp_path: Path) -> None:
    ours, theirs = lab.up(2, "el9", "moreres")
    make_wheel(tmp_path / "wheels", version="1.0")
    make_wheel(tmp_path / "wheels", version="2.0")
    playbook = TASKS.replace("W/", f"{W}/").replace("W}", f"{W}}}").replace(": W,", f": {W},")
    playbook = playbook.replace("SRC/", f"{tmp_path}/")
    (tmp_path / "site.yml").write_text(playbook)
    inv_ours = write_inventory(tmp_path / "ours.yml", [ours])
    inv_theirs = write_inventory(tmp_path / "theirs.yml", [theirs])
    started = time.monotonic()
    for host in (ours, theirs):  # the same starting point: cronie and pip from the lab repository
        res = ssh(host, SETUP)
        assert "cronie-1.5.7" in res.stdout and "python3-pip-" in res.stdout, res.stdout + res.stderr
    setup_s = time.monotonic() - started
    proc = hostprep("apply", "--diff", "-i", str(inv_ours), str(tmp_path / "site.yml"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    ans = subprocess.run([str(ansible_bin("el9") / "ansible-playbook"), "--diff", "-i", str(inv_theirs),
                          str(tmp_path / "site.yml")], capture_output=True, text=True,
                         env=_ansible_env(tmp_path, "/usr/bin/python3"), cwd=tmp_path, timeout=900)
    assert ans.returncode == 0, ans.stdout[-3000:] + ans.stderr[-2000:]
    got = _comparable(json.loads(ssh(ours, f"cat {W}/out.json").stdout.replace(ours.name, "HOST")))
    want = _comparable(json.loads(ssh(theirs, f"cat {W}/out.json").stdout.replace(theirs.name, "HOST")))
    print(f"setup (cronie, python3-pip on both twins) {setup_s:.1f}s")
    # an unchanged pip: Ansible runs pip anyway ('Requirement already satisfied', 'Skipping ... not installed');
    # hostprep's probe saw nothing to do and did not run it: no output
    assert "Requirement already satisfied" in want["pip_again"]["stdout"]
    for task in ("pip_again", "pip_version", "pip_absent_again"):
        assert not got[task]["changed"]
        for key in ("stdout", "stderr", "stdout_lines", "stderr_lines"):
            want[task].pop(key)
            assert not got[task].pop(key)
    diffs = _differences(got, want)
    assert not diffs, "\n".join(diffs)
    # the values the comparison rests on are there at all
    assert got["cron_add"]["changed"] and not got["cron_again"]["changed"] and got["cron_add"]["jobs"] == ["backup"]
    assert got["cronf_absent"]["changed"] and got["cronf_absent"]["diff"]["after_header"] == "/dev/null"
    assert got["pip_add"]["changed"] and "Successfully installed" in got["pip_add"]["stdout"]
    assert got["host_rename"]["changed"] and not got["host_again"]["changed"]
    assert got["file_own"]["diff"]["after"]["owner"] == 3950 and got["file_own"]["diff"]["before"]["owner"] == 0
    assert got["line_own"]["changed"] and got["line_own"]["diff"][1]["after"]["owner"] == 3950
    assert got["line_grp"]["changed"] and got["line_grp"]["diff"][1]["after"]["group"] == 3950
