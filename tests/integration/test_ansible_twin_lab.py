"""The same role applied by hostprep and by ansible-playbook to twin lab hosts reaches the same state:
packages, files under /etc and /srv, services, users and groups, imported keys."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.integration.labutil import hostprep, snapshot, ssh, write_inventory

ROOT = Path(__file__).resolve().parents[2]


def test_docker_role_twins_match(lab, tmp_path: Path) -> None:
    ours, theirs = lab.up(2, "el9", "twin")
    inv_ours = write_inventory(tmp_path / "ours.yml", [ours])
    inv_theirs = write_inventory(tmp_path / "theirs.yml", [theirs])
    proc = hostprep("apply", "-i", str(inv_ours), str(ROOT / "site.yml"), cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:]
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text(f"[defaults]\nroles_path = {ROOT / 'roles'}\nhost_key_checking = True\n"
                   "deprecation_warnings = False\ninterpreter_python = /usr/bin/python3\n"
                   "[ssh_connection]\npipelining = True\n")
    env = dict(os.environ, ANSIBLE_CONFIG=str(cfg), ANSIBLE_HOME=str(tmp_path / "ansible-home"),
               ANSIBLE_NOCOLOR="1")
    ans = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inv_theirs),
                          str(ROOT / "site.yml")], capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert ans.returncode == 0, ans.stdout[-3000:] + ans.stderr[-2000:]
    assert "failed=0" in ans.stdout
    # dockerd makes its own identity key on each host: its content differs by design, its presence does not
    def normal(text: str) -> list[str]:
        return [line for line in text.splitlines() if not line.endswith("  /etc/docker/key.json")]

    ours_state, theirs_state = normal(snapshot(ours)), normal(snapshot(theirs))
    assert len(ours_state) > 100
    assert ours_state == theirs_state
    # and the file both write from the same template
    assert ssh(ours, "cat /etc/yum.repos.d/docker-ce.repo").stdout == ssh(theirs, "cat /etc/yum.repos.d/docker-ce.repo"
                                                                          ).stdout
    # roles/runtime's builtin tasks: the same binary (the control node's one build), interpreter link, unit,
    # scripts, modules-load file and state directory from both
    runtime = ssh(ours, RUNTIME_STATE).stdout
    assert "/usr/local/bin/hostprep-runtime 755 root root" in runtime and "hostprep-runtime.service" in runtime
    assert runtime == ssh(theirs, RUNTIME_STATE).stdout


RUNTIME_STATE = r"""
for p in /usr/local/bin/hostprep-runtime /usr/local/libexec/hostprep-runtime /etc/modules-load.d \
         /etc/systemd/system/hostprep-runtime.service /etc/sysctl.d; do
  [ -e "$p" ] && find "$p" -maxdepth 1 -printf '%p %m %u %g %l\n' | sort
  [ -e "$p" ] && find "$p" -maxdepth 1 -type f -exec sha256sum {} + | sort
done
stat -c '%n %a %U %G' /var/lib/hostprep-runtime
systemctl is-enabled hostprep-runtime.service
"""
