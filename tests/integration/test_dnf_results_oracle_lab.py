"""dnf/yum/package registered results on twin EL9 lab hosts (issue 19): the same playbook of registered package
tasks applied by hostprep to one host and by ansible-playbook to its twin over SSH; changed, failed, msg, rc,
results (as a set: Ansible lists its transaction's package sets in no fixed order) and failures compared."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from hostprep.lab.api import lab_vars
from tests.integration.ansible_versions import ansible_bin
from tests.integration.labutil import hostprep, ssh, write_inventory
from tests.integration.test_ansible_twin_lab import _ansible_env

OUT = "/tmp/hp-dnf-oracle.json"
PLAYBOOK = """
- hosts: all
  gather_facts: false
  become: true
  tasks:
    - {dnf: {name: [python3-pip, lvm2], state: present}, check_mode: true, register: r_check}
    - {dnf: {name: [python3-pip, lvm2], state: present}, register: r_install}
    - {dnf: {name: [python3-pip, lvm2], state: present}, register: r_again}
    - {yum: {name: python3-pip, state: present}, register: r_yum_again}
    - {package: {name: lvm2, state: present}, register: r_package_again}
    - {dnf: {name: hostprep-no-such-package, state: present}, register: r_missing, ignore_errors: true}
    - {dnf: {name: lvm2, state: absent}, register: r_remove}
    - {dnf: {name: lvm2, state: absent}, register: r_remove_again}
    - {dnf: {name: "*", state: latest}, register: r_update}
    # state latest that upgrades: an old docker-ce-cli pinned from the lab's docker repository, then latest
    - yum_repository: {name: hp-docker-oracle, description: docker, baseurl: "DOCKER/$releasever/$basearch/stable",
                       gpgcheck: false}
    - {dnf: {name: docker-ce-cli-24.0.7, state: present}, register: r_pin}
    - {dnf: {name: docker-ce-cli, state: latest}, check_mode: true, register: r_latest_check}
    - {dnf: {name: docker-ce-cli, state: latest}, register: r_latest}
    - {dnf: {name: docker-ce-cli, state: latest}, register: r_latest_again}
    - {dnf: {name: docker-ce-cli, state: absent}, register: r_latest_remove}
    - copy:
        dest: OUT
        content: "{{ {'check': r_check, 'install': r_install, 'again': r_again, 'yum_again': r_yum_again,
          'package_again': r_package_again, 'missing': r_missing, 'remove': r_remove,
          'remove_again': r_remove_again, 'update': r_update, 'pin': r_pin, 'latest_check': r_latest_check,
          'latest': r_latest, 'latest_again': r_latest_again, 'latest_remove': r_latest_remove} | to_json }}"
""".replace("dest: OUT", f"dest: {OUT}")
COMPARED = ("changed", "failed", "msg", "rc", "results", "failures")


def _shape(results: dict) -> dict:
    out = {}
    for task, res in results.items():
        out[task] = {k: (sorted(res[k]) if k == "results" else res[k]) for k in COMPARED if k in res}
    return out


def test_package_results_match_ansible_on_el9_twins(lab, tmp_path: Path) -> None:
    ours, theirs = lab.up(2, "el9", "dnfres")
    (tmp_path / "site.yml").write_text(PLAYBOOK.replace("DOCKER/", lab_vars()["docker_repo_base_url"] + "/"))
    inv_ours = write_inventory(tmp_path / "ours.yml", [ours])
    inv_theirs = write_inventory(tmp_path / "theirs.yml", [theirs])
    for h in (ours, theirs):  # the same starting point: lvm2 and python3-pip absent
        assert ssh(h, "rpm -q lvm2 python3-pip python3-setuptools; true").returncode == 0
        assert "is not installed" in ssh(h, "rpm -q python3-pip").stdout
    proc = hostprep("apply", "-i", str(inv_ours), str(tmp_path / "site.yml"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    ans = subprocess.run([str(ansible_bin("el9") / "ansible-playbook"), "-i", str(inv_theirs),
                          str(tmp_path / "site.yml")], capture_output=True, text=True,
                         env=_ansible_env(tmp_path, "/usr/bin/python3"), cwd=tmp_path, timeout=900)
    assert ans.returncode == 0, ans.stdout[-3000:] + ans.stderr[-2000:]
    got = _shape(json.loads(ssh(ours, f"cat {OUT}").stdout))
    want = _shape(json.loads(ssh(theirs, f"cat {OUT}").stdout))
    diffs = [f"{task}.{key}: {got[task].get(key, '<missing>')!r} != {want[task].get(key, '<missing>')!r}"
             for task in want for key in sorted(set(got[task]) | set(want[task]))
             if got[task].get(key, "<missing>") != want[task].get(key, "<missing>")]
    assert not diffs, "\n".join(diffs)
    assert any(r.startswith("Installed: python3-setuptools-") for r in got["install"]["results"])  # a dependency
    assert got["latest"]["changed"] and not got["latest_again"]["changed"] and got["latest_check"]["changed"]
    assert "Installed: docker-ce-cli-1:26.1.4-1.lab.x86_64" in got["latest"]["results"], got["latest"]
