"""Every vendored public role (tests/data/galaxy_roles), unchanged, loads and plans in hostprep as in ansible-playbook.

Static only, so cheap (no host): one playbook holds a play per role, each with the variables its README suggests,
for an inventory of an EL7, EL8 and EL9 host; hostprep and ansible-playbook (the venv's ansible-core) must give
the same verdict for --syntax-check and the same text for --list-tasks, --list-tags and --list-hosts. A role
that names a module hostprep lacks (mysql_user, jenkins_plugin, ...) is accepted at load time by both and refused
by hostprep only when such a task is reached.

Ansible resolves a module at load time, so it needs the collections the roles name: community.general and
ansible.posix from ci/prep.d/45-ansible-collections.sh, and, for community.postgresql/community.mysql, empty
module files made here (resolving a name is all a static check does with them).
Also: the corpus matches each role's MANIFEST (upstream commit and sha256 of every file), and the short module
names hostprep takes as "Ansible has it, hostprep lacks it" are names ansible-core itself routes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hostprep.playbook.ansible_modules import _NAMES, _ROUTED, ANSIBLE_MODULES

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests/data/galaxy_roles"
COLLECTIONS = Path("/var/cache/hostprep/ansible-collections-12.3.0")
STUBBED = ("community.postgresql", "community.mysql")  # not in that cache: resolved from empty module files

# galaxy name -> the play's variables (as the role's README suggests them)
ROLES: dict[str, dict] = {
    "geerlingguy.containerd": {},
    "geerlingguy.docker": {"docker_users": ["deploy"]},
    "geerlingguy.firewall": {"firewall_allowed_tcp_ports": ["22", "80"]},
    "geerlingguy.git": {"git_install_from_source": False},
    "geerlingguy.haproxy": {"haproxy_backend_servers": [{"name": "app1", "address": "127.0.0.1:8080"}]},
    "geerlingguy.java": {"java_packages": ["java-17-openjdk"]},
    "geerlingguy.memcached": {"memcached_memory_limit": 128},
    "geerlingguy.nginx": {"nginx_vhosts": [{"listen": "80", "server_name": "example.com",
                                            "root": "/var/www/example.com"}]},
    "geerlingguy.pip": {"pip_install_packages": ["docker"]},
    "geerlingguy.repo-epel": {},
    "geerlingguy.security": {"security_sudoers_passwordless": ["deploy"]},
    "geerlingguy.swap": {"swap_file_size_mb": "512"},
    "geerlingguy.ntp": {"ntp_timezone": "Europe/Paris", "ntp_manage_config": True},
    "geerlingguy.mysql": {"mysql_root_password": "secret", "mysql_databases": [{"name": "example_db"}],
                          "mysql_users": [{"name": "example_user", "host": "%", "password": "secret",
                                           "priv": "example_db.*:ALL"}]},
    "geerlingguy.apache": {"apache_listen_port": 8080,
                           "apache_vhosts": [{"servername": "local.dev", "documentroot": "/var/www/html"}]},
    "geerlingguy.postgresql": {"postgresql_databases": [{"name": "example_db"}],
                               "postgresql_users": [{"name": "example_user", "password": "secret"}]},
    "geerlingguy.redis": {"redis_bind_interface": "127.0.0.1"},
    "geerlingguy.php": {"php_enable_php_fpm": True, "php_memory_limit": "256M"},
    "geerlingguy.nodejs": {"nodejs_version": "20.x", "nodejs_npm_global_packages": [{"name": "yo"}]},
    "geerlingguy.jenkins": {"jenkins_hostname": "localhost", "jenkins_plugins": ["blueocean"]},
    "geerlingguy.certbot": {"certbot_install_method": "package", "certbot_admin_email": "admin@example.com",
                            "certbot_certs": [{"domains": ["example.com"]}]},
    "geerlingguy.composer": {"composer_global_packages": [{"name": "phpunit/phpunit", "release": "@stable"}]},
    "geerlingguy.kubernetes": {"kubernetes_role": "control_plane"},
    "geerlingguy.supervisor": {"supervisor_programs": [{"name": "app", "command": "/bin/true", "state": "present"}]},
    "geerlingguy.elasticsearch": {"elasticsearch_network_host": "localhost"},
    "robertdebock.users": {"users_groups": [{"name": "robertdb", "gid": 1024}],
                           "users": [{"name": "robertdb", "uid": 1024, "group": "robertdb",
                                      "authorized_keys": ["ssh-rsa ABC123"]}]},
}
INVENTORY = "[el7]\nc7 ansible_host=192.0.2.7\n[el8]\nr8 ansible_host=192.0.2.8\n[el9]\nr9 ansible_host=192.0.2.9\n"


def _routing() -> dict:
    import ansible

    table = Path(ansible.__file__).parent / "config/ansible_builtin_runtime.yml"
    return yaml.safe_load(table.read_text())["plugin_routing"]["modules"]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    if not (COLLECTIONS / "ansible_collections/community/general").is_dir():
        raise RuntimeError(f"{COLLECTIONS} is missing: run ci/prep.d/45-ansible-collections.sh")
    work = tmp_path_factory.mktemp("galaxy-static")
    for name, route in _routing().items():
        target = route.get("redirect", "")
        if target.rsplit(".", 1)[0] in STUBBED:
            namespace, collection, module = target.split(".")
            stub = work / "stubs/ansible_collections" / namespace / collection / "plugins/modules" / f"{module}.py"
            stub.parent.mkdir(parents=True, exist_ok=True)
            stub.write_text(f"# {name}: only resolved, never run, by the static checks\n")
    (work / "hosts").write_text(INVENTORY)
    plays = [{"name": role, "hosts": "all", "vars": variables, "roles": [role]} for role, variables in ROLES.items()]
    (work / "site.yml").write_text(yaml.safe_dump(plays, sort_keys=False))
    (work / "ansible.cfg").write_text(f"[defaults]\nroles_path = {CORPUS}\nretry_files_enabled = False\n")
    return work


def _run(tool: str, work: Path, flag: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_CONFIG": str(work / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_HOME": str(work / ".a"), "ANSIBLE_LOCAL_TEMP": str(work / ".t"),
           "ANSIBLE_COLLECTIONS_PATH": f"{COLLECTIONS}:{work / 'stubs'}"}
    cmd = [str(BIN / tool), *(["apply"] if tool == "hostprep" else []), "-i", "hosts", "site.yml", flag]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=work, env=env, timeout=600)


def test_every_vendored_role_is_in_the_oracle() -> None:
    assert sorted(ROLES) == sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
    assert len(ROLES) >= 24


@pytest.mark.parametrize("flag", ["--syntax-check", "--list-tasks", "--list-tags", "--list-hosts"])
def test_same_static_answer_as_ansible_playbook(project: Path, flag: str) -> None:
    ours, theirs = _run("hostprep", project, flag), _run("ansible-playbook", project, flag)
    assert theirs.returncode == 0, theirs.stderr[-3000:]
    assert ours.returncode == 0, ours.stderr[-3000:]
    if flag == "--syntax-check":
        return  # the verdict is the answer; the two print different lines for it
    if flag == "--list-hosts":  # ansible-playbook's order of a play's hosts changes from run to run (hash seed)
        assert sorted(ours.stdout.splitlines()) == sorted(theirs.stdout.splitlines())
    else:
        assert ours.stdout == theirs.stdout
    for role in ROLES:
        assert f"{role}\tTAGS:" in ours.stdout or flag == "--list-hosts" and f"): {role}" in ours.stdout, role


@pytest.mark.parametrize("role", sorted(ROLES))
def test_vendored_unchanged(role: str) -> None:
    """The files are the upstream commit's, byte for byte, as the role's MANIFEST lists them."""
    path = CORPUS / role
    manifest = (path / "MANIFEST").read_text()
    assert "commit: " in manifest and "upstream: https://github.com/" in manifest and (path / "LICENSE").is_file()
    listed = dict(reversed(line.split("  ", 1)) for line in
                  manifest.split("files (sha256, unchanged from the commit):\n", 1)[1].splitlines())
    present = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file() and p.name != "MANIFEST"}
    assert present == set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((path / name).read_bytes()).hexdigest() == digest, name


def test_known_module_names_are_ones_ansible_routes() -> None:
    """The routed short names hostprep defers to run time (not typos) are the ones ansible-core routes (not
    tombstoned) to a collection of Linux hosts; the hand-picked list (_NAMES) stays as it was chosen."""
    routes = _routing()
    routed = set(_ROUTED.split())
    assert routed and all(name in routes and "tombstone" not in routes[name] for name in routed)
    assert routed | set(_NAMES.split()) == ANSIBLE_MODULES
    assert {"postgresql_privs", "mysql_replication", "timezone", "modprobe", "jenkins_plugin"} <= ANSIBLE_MODULES
