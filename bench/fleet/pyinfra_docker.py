"""pyinfra deploy equivalent to roles/docker (the bench/fleet peer): the same steps, in the same order.

Run by bench/fleet/bench_fleet.py as `pyinfra -y --sudo INVENTORY bench/fleet/pyinfra_docker.py`. Every
variable the role reads comes from host data (the bench writes the lab inventory's variables and the bench
playbook's role variables into the pyinfra inventory); the per-release package lists are read from the
role's own `vars/RedHat-<major>.yml`, so both tools install exactly the same packages.

Steps (roles/docker/tasks/main.yml) and how they are done here:
1. refuse hosts that are not EL 7/8/9 - LinuxDistribution fact, raise before any operation;
2. `yum update -y` - `dnf_update` below: `dnf -q check-update` (exit 100 = updates) decides, as the role's
   `yum: name='*' state=latest` does (pyinfra's own `dnf.update` runs the update on every run);
3. remove conflicting packages - `dnf.packages(present=False)`;
4. prerequisites - `dnf.packages`;
5. import the signing key, checking its fingerprint - `rpm_key` below (pyinfra's `dnf.key` imports on every
   run and checks no fingerprint): the gpg-pubkey RPMs installed decide; the key is fetched, its
   fingerprint checked with gpg, then imported;
6. /etc/yum.repos.d/docker-ce.repo with the stable, test and nightly sections - `files.put` of the same
   bytes Ansible's `yum_repository` writes (pyinfra's `dnf.repo` writes one section per file);
7. engine packages - `dnf.packages` (no version pin: `docker_version` must be empty);
8. /etc/docker and daemon.json - `files.directory`, `files.put` of `to_nice_json` output;
9. docker enabled and started - `systemd.service`; users in the docker group - `server.user(append=True)`;
10. epel-release, pip - `dnf.packages`; `yum upgrade python*` - `dnf_update("python*")`; Compose through pip
    on EL7 (`docker_compose_method: pip`) - `pip.packages`;
11. the handler: restart docker when daemon.json changed (`_if=did_change`), where the role flushes handlers;
    then `docker version`, `docker info`, `docker compose version` - `server.shell` (always run, as the
    role's `command` tasks with `changed_when: false` are; pyinfra counts them as changes).
On EL7 the `yum` operations and command are used instead of `dnf`.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import yaml
from pyinfra import host
from pyinfra.api import FactBase, OperationError, operation
from pyinfra.facts.server import LinuxDistribution
from pyinfra.operations import dnf, files, pip, server, systemd, yum

DEFAULTS = {
    "docker_repo_base_url": "https://download.docker.com/linux/centos",
    "docker_gpg_fingerprint": "060A 61C5 1B55 8A7F 742B 77AA C52F EB6B 621E 9F35",
    "docker_channel_test": False,
    "docker_channel_nightly": False,
    "docker_version": "",
    "docker_remove_conflicts": True,
    "docker_system_update": True,
    "docker_install_epel": True,
    "docker_install_pip": True,
    "docker_upgrade_python": True,
    "docker_compose_method": None,  # per release (vars/RedHat-N.yml)
    "docker_compose_pip_package": "docker-compose",
    "docker_compose_pip_extra_args": "",
    "docker_daemon_config": {},
    "docker_service_enabled": True,
    "docker_service_state": "started",
    "docker_users": [],
    "docker_verify": True,
}


def var(name: str):
    value = host.data.get(name)
    return DEFAULTS[name] if value is None else value


class UpdatesAvailable(FactBase):
    """Whether `dnf check-update [pattern]` lists updates (its exit code 100)."""

    def command(self, tool: str, pattern: str = "", exclude: str = "") -> str:
        excl = f" --exclude={exclude}" if exclude else ""
        return f"{tool} -q check-update{excl} {pattern} >/dev/null 2>&1; echo $?"

    def process(self, output):
        return bool(output) and output[-1].strip() == "100"


class RpmKeyIds(FactBase):
    """Short ids (last 8 hex digits of the fingerprint) of the keys in the RPM database."""

    default = set

    def command(self) -> str:
        return "rpm -q gpg-pubkey --qf '%{VERSION}\\n' 2>/dev/null || true"

    def process(self, output):
        return {line.strip().lower() for line in output if line.strip()}


@operation()
def dnf_update(tool: str, pattern: str = "", exclude: str = ""):
    """`dnf -y upgrade [pattern]` when check-update says there is something to update."""
    if host.get_fact(UpdatesAvailable, tool=tool, pattern=pattern, exclude=exclude):
        excl = f" --exclude={exclude}" if exclude else ""
        yield f"{tool} -y upgrade{excl} {pattern}".rstrip()
    else:
        host.noop(f"nothing to update ({pattern or '*'})")


@operation()
def rpm_key(url: str, fingerprint: str):
    """Import the key at `url` unless an RPM key with this fingerprint is there; refuse another fingerprint."""
    fpr = fingerprint.replace(" ", "").upper()
    if fpr[-8:].lower() in host.get_fact(RpmKeyIds):
        host.noop(f"key {fpr[-8:]} is imported")
        return
    yield (f"set -e; t=$(mktemp); trap 'rm -f $t' EXIT; curl -fsS -o $t '{url}'; "
           f"gpg --batch --with-colons --show-keys --with-fingerprint $t | grep -q '^fpr:*{fpr}:' "
           f"|| {{ echo 'fingerprint of {url} is not {fpr}' >&2; exit 1; }}; rpm --import $t")


def repo_file(base: str, gpgkey: str, test: bool, nightly: bool) -> str:
    """docker-ce.repo exactly as Ansible's yum_repository writes the role's three sections."""
    out = []
    for channel, enabled in (("stable", True), ("test", test), ("nightly", nightly)):
        out.append(f"[docker-ce-{channel}]\n"
                   f"baseurl = {base}/$releasever/$basearch/{channel}\n"
                   f"enabled = {1 if enabled else 0}\n"
                   "gpgcheck = 1\n"
                   f"gpgkey = {gpgkey}\n"
                   f"name = Docker CE {channel.capitalize()} - $basearch\n\n")
    return "".join(out)


def as_bool(value) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")


# 1. only EL 7/8/9
dist = host.get_fact(LinuxDistribution)
meta = dist.get("release_meta") or {}
family = " ".join([meta.get("ID", ""), meta.get("ID_LIKE", "")])
major = dist.get("major")
if not any(x in family for x in ("rhel", "centos", "fedora")) or major not in (7, 8, 9):
    raise OperationError(f"the docker deploy supports CentOS/RHEL 7, 8 and 9; this host is {dist.get('name')} {major}")
release = yaml.safe_load((Path(host.data.get("docker_role_dir")) / "vars" / f"RedHat-{major}.yml").read_text())
pkg = yum if major == 7 else dnf
tool = "yum" if major == 7 else "dnf"
compose_method = var("docker_compose_method") or release["docker_default_compose_method"]
if var("docker_version"):
    raise OperationError("this deploy installs the latest stable Docker only (docker_version must be empty)")
base_url = var("docker_repo_base_url")
gpg_key_url = host.data.get("docker_gpg_key_url") or f"{base_url}/gpg"

# 2.-4.
if as_bool(var("docker_system_update")):
    dnf_update(name="Update the system (yum update -y)", tool=tool)
if as_bool(var("docker_remove_conflicts")):
    pkg.packages(name="Remove packages that conflict with Docker CE",
                 packages=release["docker_conflicting_packages"], present=False)
pkg.packages(name="Install the prerequisites", packages=release["docker_prerequisites"])

# 5.-7.
rpm_key(name="Import Docker's package signing key, checking its fingerprint", url=gpg_key_url,
        fingerprint=var("docker_gpg_fingerprint"))
files.put(name="Add the docker-ce repository (stable, test and nightly sections)",
          src=StringIO(repo_file(base_url, gpg_key_url, as_bool(var("docker_channel_test")),
                                 as_bool(var("docker_channel_nightly")))),
          dest="/etc/yum.repos.d/docker-ce.repo", user="root", group="root", mode="644")
pkg.packages(name="Install Docker Engine (latest stable)", packages=release["docker_engine_packages"])

# 8.
daemon_json = None
if var("docker_daemon_config"):
    files.directory(name="Create /etc/docker", path="/etc/docker", mode="755")
    daemon_json = files.put(
        name="Write /etc/docker/daemon.json",
        src=StringIO(json.dumps(var("docker_daemon_config"), indent=2, sort_keys=True, ensure_ascii=False) + "\n"),
        dest="/etc/docker/daemon.json", user="root", group="root", mode="644")

# 9.
systemd.service(name="Enable and start docker", service="docker",
                running=var("docker_service_state") in ("started", "restarted"),
                enabled=as_bool(var("docker_service_enabled")))
for user in var("docker_users"):
    server.user(name=f"Add {user} to the docker group", user=user, groups=["docker"], append=True)

# 10.
if as_bool(var("docker_install_epel")):
    pkg.packages(name="Install epel-release", packages=["epel-release"])
if as_bool(var("docker_install_pip")) or compose_method == "pip":
    pkg.packages(name=f"Install pip ({release['docker_pip_package']})", packages=[release["docker_pip_package"]])
if as_bool(var("docker_upgrade_python")):
    dnf_update(name="Upgrade Python packages (yum upgrade python*)", tool=tool, pattern="'python*'")
if compose_method == "pip":
    pip.packages(name="Install Compose through pip", packages=[var("docker_compose_pip_package")],
                 pip=release["docker_pip_executable"],
                 extra_install_args=var("docker_compose_pip_extra_args") or None)

# 11.
if daemon_json is not None:
    systemd.service(name="Restart docker (daemon.json changed)", service="docker", restarted=True,
                    _if=daemon_json.did_change)
if as_bool(var("docker_verify")):
    server.shell(name="Check that the engine answers (docker version)", commands=["docker version"])
    server.shell(name="Check that the engine answers (docker info)", commands=["docker info"])
    server.shell(name="Check that Compose answers",
                 commands=["docker compose version" if compose_method == "plugin" else "docker-compose version"])
