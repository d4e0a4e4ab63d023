"""Public Galaxy roles, unchanged, applied by hostprep and by ansible-playbook to twin lab hosts.

The roles are vendored byte for byte from their upstream commits under tests/data/galaxy_roles (each
with its LICENSE and a MANIFEST naming the repository, commit and file hashes; CI is offline). Each role
runs on one twin with hostprep and on the other with ansible-playbook, at once; hostprep must converge,
change nothing on a second run, and leave the same state as Ansible: packages, files (mode, owner,
content) under the directories the roles write, services, users and groups, firewall rules. The only
inputs a role gets are its documented variables pointing it at the lab's repository instead of the
internet (and a few keeping the twins reachable, e.g. root's key login under geerlingguy.security).

The roles share one pair of EL9 twins and run in the order below, each on the state the ones before it
left (the same on both twins while they agree); later roles do not undo earlier ones.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from hostprep.lab import paths
from tests.integration.ansible_versions import ansible_bin
from tests.integration.labutil import BIN, snapshot, ssh, summary, write_inventory

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests/data/galaxy_roles"
REPO = paths.REPO_URL
# ansible-core 2.17+ ships no ini_file: the `ansible` release's collections (ci/prep.d/45-ansible-collections.sh)
COLLECTIONS = Path("/var/cache/hostprep/ansible-collections-12.3.0")
PYPI_ARGS = f"--index-url {REPO}/pypi/simple/ --trusted-host {paths.BRIDGE_ADDRESS}"

# galaxy name -> the play variables it gets (lab mirrors, and what keeps the lab host reachable)
ROLES: dict[str, dict] = {
    "geerlingguy.pip": {"pip_install_packages": [{"name": "docker-compose", "extra_args": PYPI_ARGS}]},
    "geerlingguy.repo-epel": {
        "epel_repo_url": f"{REPO}/el/9/base/x86_64/Packages/epel-release-9-7.lab.noarch.rpm",
        "epel_repo_gpg_key_url": f"{REPO}/RPM-GPG-KEY-hostprep-lab"},
    "geerlingguy.git": {},
    "geerlingguy.java": {"java_home": "/usr/lib/jvm/jre-17"},
    # a swap file cannot be switched on in a container (and /proc/sys is read-only): the role's absent path
    "geerlingguy.swap": {"swap_file_state": "absent"},
    # fail2ban and dnf-automatic are not lab packages; root keeps its key login (the test logs in as root)
    "geerlingguy.security": {"security_fail2ban_enabled": False, "security_autoupdate_enabled": False,
                             "security_ssh_permit_root_login": "prohibit-password",
                             "security_sudoers_passwordless": ["deploy"]},
    "geerlingguy.memcached": {},
    "geerlingguy.haproxy": {"haproxy_frontend_port": 8081,
                            "haproxy_backend_servers": [{"name": "app1", "address": "127.0.0.1:8080"}]},
    "geerlingguy.nginx": {"nginx_yum_repo_enabled": False,
                          "nginx_vhosts": [{"listen": "8080", "server_name": "lab.example",
                                            "root": "/usr/share/nginx/html", "index": "index.html"}]},
    "geerlingguy.firewall": {"firewall_allowed_tcp_ports": ["22", "80", "8080", "8081"]},
    "geerlingguy.containerd": {"docker_yum_repo_url": f"{REPO}/linux/centos/docker-ce.repo",
                               "docker_yum_gpg_key": f"{REPO}/linux/centos/gpg"},
    "geerlingguy.docker": {"docker_repo_url": f"{REPO}/linux", "docker_users": ["deploy"]},
}

# what the roles write beyond labutil.SNAPSHOT's directories, and state no file shows
EXTRA_STATE = r"""
for d in /etc/profile.d /etc/nginx /etc/haproxy /etc/containerd /etc/sysconfig /etc/ssh /usr/local/bin \
         /usr/lib/jvm /var/lib/haproxy; do
  [ -d "$d" ] && find "$d" -xdev \( -type f -o -type l -o -type d \) ! -name 'ssh_host_*' \
    -printf '%p %m %u %g %l\n' 2>/dev/null | sort
  [ -d "$d" ] && find "$d" -xdev -type f ! -name 'ssh_host_*' -exec sha1sum {} + 2>/dev/null | sort
done
for f in /etc/sudoers /etc/fstab /etc/firewall.bash /etc/yum.repos.d/epel.repo; do
  [ -e "$f" ] && stat -c '%n %a %U %G' "$f" && sha1sum "$f"
done
python3 -m pip list --format=freeze 2>/dev/null | sort
iptables -S 2>/dev/null; ip6tables -S 2>/dev/null
systemctl is-active nginx haproxy memcached firewall containerd docker sshd 2>/dev/null
id deploy
"""


def _ansible_env(tmp_path: Path) -> dict[str, str]:
    if not (COLLECTIONS / "ansible_collections/community/general").is_dir():
        raise RuntimeError(f"{COLLECTIONS} is missing: run ci/prep.d/45-ansible-collections.sh")
    cfg = tmp_path / "ansible.cfg"
    if not cfg.exists():
        cfg.write_text(f"[defaults]\nroles_path = {CORPUS}\nhost_key_checking = True\n"
                       "deprecation_warnings = False\ninterpreter_python = /usr/bin/python3\n"
                       "retry_files_enabled = False\n"
                       "[ssh_connection]\npipelining = True\n")
    return dict(os.environ, ANSIBLE_CONFIG=str(cfg), ANSIBLE_HOME=str(tmp_path / "ansible-home"),
                ANSIBLE_NOCOLOR="1", ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS))


def _state(host) -> list[str]:
    # dockerd makes its own identity key on each host: its content differs by design, its presence does not
    lines = snapshot(host).splitlines() + ssh(host, EXTRA_STATE).stdout.splitlines()
    return [line for line in lines if not line.endswith("  /etc/docker/key.json")]


@pytest.fixture(scope="module")
def twins(lab):
    return lab.up(2, "el9", "gx")


def test_corpus_is_vendored_unchanged() -> None:
    """Every role of the test is in the corpus with its LICENSE, and its files match its MANIFEST."""
    assert len(ROLES) >= 10
    for name in ROLES:
        role = CORPUS / name
        manifest = (role / "MANIFEST").read_text()
        assert "commit: " in manifest and (role / "LICENSE").is_file(), name
        listed = {}
        for line in manifest.split("files (sha256, unchanged from the commit):\n", 1)[1].splitlines():
            digest, path = line.split("  ", 1)
            listed[path] = digest
        present = {p.relative_to(role).as_posix() for p in role.rglob("*") if p.is_file() and p.name != "MANIFEST"}
        assert present == set(listed), name
        for path, digest in listed.items():
            assert hashlib.sha256((role / path).read_bytes()).hexdigest() == digest, f"{name}/{path}"


@pytest.mark.parametrize("role", list(ROLES))
def test_role_twins_match(twins, tmp_path: Path, role: str) -> None:
    ours, theirs = twins
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"name": role, "hosts": "all", "vars": ROLES[role], "roles": [role]}],
                                       sort_keys=False))
    env = _ansible_env(tmp_path)
    inv_ours = write_inventory(tmp_path / "ours.yml", [ours])
    inv_theirs = write_inventory(tmp_path / "theirs.yml", [theirs])
    apply = [str(BIN / "hostprep"), "apply", "-i", str(inv_ours), str(playbook), "--json", "--detailed-exitcode"]
    # both at once: the twins are separate hosts
    ans = subprocess.Popen([str(ansible_bin("el9") / "ansible-playbook"), "-i", str(inv_theirs), str(playbook)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
    first = subprocess.run(apply, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    ans_out = ans.communicate(timeout=900)[0]
    assert ans.returncode == 0 and "failed=0" in ans_out, ans_out[-4000:]
    assert first.returncode in (0, 2), first.stdout[-4000:] + first.stderr[-2000:]
    second = subprocess.run(apply, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    assert all(s["changed"] == 0 and s["failed"] == 0 for s in summary(second).values()), second.stdout[-4000:]
    ours_state, theirs_state = _state(ours), _state(theirs)
    assert len(ours_state) > 100
    diff = "\n".join(difflib.unified_diff(theirs_state, ours_state, "ansible-playbook", "hostprep", lineterm=""))
    assert ours_state == theirs_state, diff[:6000]
