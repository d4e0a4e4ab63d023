"""The same role applied by hostprep and by ansible-playbook to twin lab hosts reaches the same state:
packages, files under /etc and /srv, services, users and groups, imported keys.

Each release is managed by the ansible-core that manages it for real (ansible_versions.py): the
current one on EL9, 2.16 on EL7 and EL8, with the target's own Python found by Ansible's discovery
(EL7: /usr/bin/python 2.7, EL8: /usr/libexec/platform-python 3.6). A second test shows the current
ansible-core stopping on EL7 and EL8, as it does on real hosts, while hostprep converges them.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.integration.ansible_versions import CURRENT, ansible_bin
from tests.integration.labutil import hostprep, snapshot, ssh, write_inventory

ROOT = Path(__file__).resolve().parents[2]


def _ansible_env(tmp_path: Path, interpreter: str = "auto_silent") -> dict[str, str]:
    """EL7/EL8: Ansible's discovery finds the system Python; EL9 names /usr/bin/python3, the interpreter
    roles/runtime links to (discovery would pick /usr/bin/python3.9, the same file under another name)."""
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text(f"[defaults]\nroles_path = {ROOT / 'roles'}\nhost_key_checking = True\n"
                   f"deprecation_warnings = False\ninterpreter_python = {interpreter}\n"
                   "[ssh_connection]\npipelining = True\n")
    return dict(os.environ, ANSIBLE_CONFIG=str(cfg), ANSIBLE_HOME=str(tmp_path / "ansible-home"),
                ANSIBLE_NOCOLOR="1")


def _playbook_for_ansible(tmp_path: Path, flavor: str) -> Path:
    """site.yml as Ansible runs it on the lab. On EL7 Ansible's yum tasks pick the yum 3 backend, whose
    Python 2 API (`import yum`) the lab cannot offer (its EL7 `yum` is dnf, see hostprep/lab/README.md):
    there they are told `use_backend: yum4` (dnf), the only change to the play."""
    plays = yaml.safe_load((ROOT / "site.yml").read_text())
    if flavor == "el7":
        for play in plays:
            play["module_defaults"] = {"ansible.builtin.yum": {"use_backend": "yum4"}}
    path = tmp_path / "site-ansible.yml"
    path.write_text(yaml.safe_dump(plays, sort_keys=False))
    return path


@pytest.mark.parametrize("flavor", ["el9", "el7", "el8"])
def test_docker_role_twins_match(lab, tmp_path: Path, flavor: str) -> None:
    ours, theirs = lab.up(2, flavor, f"twin{flavor[-1]}")
    inv_ours = write_inventory(tmp_path / "ours.yml", [ours])
    inv_theirs = write_inventory(tmp_path / "theirs.yml", [theirs])
    proc = hostprep("apply", "-i", str(inv_ours), str(ROOT / "site.yml"), cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:]
    ans = subprocess.run([str(ansible_bin(flavor) / "ansible-playbook"), "-i", str(inv_theirs),
                          str(_playbook_for_ansible(tmp_path, flavor))], capture_output=True, text=True,
                         env=_ansible_env(tmp_path, "/usr/bin/python3" if flavor == "el9" else "auto_silent"),
                         cwd=ROOT, timeout=900)
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


@pytest.mark.parametrize("flavor,python", [("el7", "/usr/bin/python"), ("el8", "/usr/libexec/platform-python")])
def test_current_ansible_stops_on_el7_el8_where_hostprep_converges(lab, tmp_path: Path, flavor: str,
                                                                    python: str) -> None:
    ours, theirs = lab.up(2, flavor, f"twin{flavor[-1]}")  # the twins' hosts, when that test ran first
    inv = write_inventory(tmp_path / "inv.yml", [theirs])

    def ping(bin_dir: Path, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(bin_dir / "ansible"), "-i", str(inv), theirs.name, "-m", "ansible.builtin.ping",
                               *extra], capture_output=True, text=True, env=_ansible_env(tmp_path), timeout=300)

    # discovery looks for a Python it supports and finds none: it falls back to /usr/bin/python3, which a
    # fresh host lacks ("not found") and which, once roles/runtime installed python3 3.6 on EL7, cannot
    # run its module code (a SyntaxError, reported as "Module result deserialization failed")
    found = ping(CURRENT)
    assert found.returncode != 0 and '"ping": "pong"' not in found.stdout, found.stdout
    assert "The module interpreter '/usr/bin/python3' was not found" in found.stdout + found.stderr or \
        "Module result deserialization failed" in found.stdout + found.stderr, found.stdout
    # pointed at the system Python, it refuses it
    told = ping(CURRENT, "-e", f"ansible_python_interpreter={python}")
    assert told.returncode != 0 and '"ping": "pong"' not in told.stdout, told.stdout
    # ansible-core 2.16 manages it
    old = ping(ansible_bin(flavor))
    assert old.returncode == 0 and '"ping": "pong"' in old.stdout, old.stdout + old.stderr
    assert f'"discovered_interpreter_python": "{python}"' in old.stdout
    proc = hostprep("apply", "-i", str(write_inventory(tmp_path / "ours.yml", [ours])), str(ROOT / "site.yml"),
                    cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert ssh(ours, "systemctl is-active docker").stdout.strip() == "active"
