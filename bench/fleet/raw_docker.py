"""The floor of the bench/fleet first apply: roles/docker's steps as one shell script per host, run over one SSH
session per host, all hosts at once (bench tool `raw`).

    .venv/bin/python bench/fleet/raw_docker.py INVENTORY.yml [--vars JSON] [--print]

What a person who knows the role would type on a fresh host, with no check before any step (every step is
the change the role makes on a fresh lab host, in the role's order):
  `dnf -y update` (yum on EL7), remove the conflicting packages, install the prerequisites, `rpm --import`
  of the key (fetched, fingerprint checked with gpg as the role's rpm_key does), the docker-ce.repo file
  (the bytes Ansible's yum_repository writes), install the engine packages, /etc/docker and daemon.json
  (to_nice_json), `systemctl enable --now docker`, `usermod -aG docker USER` for docker_users, epel-release,
  the pip package, `upgrade 'python*'`, Compose through pip (EL7), the handler's `systemctl restart docker`
  (daemon.json was written), and the three closing checks.
The variables are the role's (defaults, vars/RedHat-<major>.yml) under the inventory's and --vars, as the
other tools get them. The script stops at the first failing step (`set -e`); the exit code is the worst
host's. Each host's output goes to stdout, prefixed with its name.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")


def repo_file(base: str, gpgkey: str, test: bool, nightly: bool) -> str:
    """docker-ce.repo exactly as Ansible's yum_repository writes the role's three sections (as pyinfra_docker.py)."""
    out = []
    for channel, enabled in (("stable", True), ("test", test), ("nightly", nightly)):
        out.append(f"[docker-ce-{channel}]\n"
                   f"baseurl = {base}/$releasever/$basearch/{channel}\n"
                   f"enabled = {1 if enabled else 0}\n"
                   "gpgcheck = 1\n"
                   f"gpgkey = {gpgkey}\n"
                   f"name = Docker CE {channel.capitalize()} - $basearch\n\n")
    return "".join(out)


def inventory_hosts(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(name, variables) of every host of a lab YAML inventory, group `all` vars under the host's own."""
    data = yaml.safe_load(path.read_text())["all"]
    common = dict(data.get("vars") or {})
    hosts: dict[str, dict[str, Any]] = {}

    def walk(group: dict[str, Any]) -> None:
        for name, hv in (group.get("hosts") or {}).items():
            hosts.setdefault(name, {}).update(hv or {})
        for child in (group.get("children") or {}).values():
            walk(child or {})

    walk(data)
    return [(name, {**common, **hv}) for name, hv in hosts.items()]


def role_vars(role_dir: Path, major: int, given: dict[str, Any]) -> dict[str, Any]:
    """The role's defaults, then its vars for the release, then the inventory's and the play's (simple
    `{{ name }}` references in the defaults resolved against the result)."""
    out = dict(yaml.safe_load((role_dir / "defaults" / "main.yml").read_text()) or {})
    out.update(yaml.safe_load((role_dir / "vars" / f"RedHat-{major}.yml").read_text()) or {})
    out.update(given)
    for _ in range(3):
        for key, value in list(out.items()):
            if isinstance(value, str) and "{{" in value:
                for name, sub in out.items():
                    if isinstance(sub, str) and "{{" not in sub:
                        value = value.replace("{{ " + name + " }}", sub)
                out[key] = value
    return out


def script(v: dict[str, Any], major: int) -> str:
    """The role's steps for one host as a POSIX shell script (see the module docstring)."""
    tool = "yum" if major == 7 else "dnf"
    if v.get("docker_version"):
        raise SystemExit("raw: the docker_version pin is not scripted (the bench does not pin)")
    lines = ["set -e", "export LC_ALL=C"]
    if as_bool(v["docker_system_update"]):
        lines.append(f"{tool} -y update")
    if as_bool(v["docker_remove_conflicts"]):
        lines.append(f"{tool} -y remove " + " ".join(shlex.quote(p) for p in v["docker_conflicting_packages"]))
    lines.append(f"{tool} -y install " + " ".join(shlex.quote(p) for p in v["docker_prerequisites"]))
    fpr = str(v["docker_gpg_fingerprint"]).replace(" ", "").upper()
    key = shlex.quote(v["docker_gpg_key_url"])
    lines += [
        f"k=$(mktemp); curl -fsS -o \"$k\" {key}",
        f"gpg --batch --with-colons --show-keys --with-fingerprint \"$k\" | grep -q '^fpr:*{fpr}:'",
        "rpm --import \"$k\"; rm -f \"$k\"",
        "cat > /etc/yum.repos.d/docker-ce.repo <<'HOSTPREP_RAW_EOF'",
        repo_file(v["docker_repo_base_url"], v["docker_gpg_key_url"], as_bool(v["docker_channel_test"]),
                  as_bool(v["docker_channel_nightly"])).rstrip("\n"),
        "HOSTPREP_RAW_EOF",
        "chmod 0644 /etc/yum.repos.d/docker-ce.repo",
        f"{tool} -y install " + " ".join(shlex.quote(p) for p in v["docker_engine_packages"]),
    ]
    config = v.get("docker_daemon_config") or {}
    if config:
        lines += ["mkdir -p /etc/docker", "chmod 0755 /etc/docker",
                  "cat > /etc/docker/daemon.json <<'HOSTPREP_RAW_EOF'",
                  json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False),
                  "HOSTPREP_RAW_EOF", "chmod 0644 /etc/docker/daemon.json"]
    enable = "enable --now" if as_bool(v["docker_service_enabled"]) else "start"
    lines.append(f"systemctl {enable} docker")
    lines += [f"usermod -aG docker {shlex.quote(u)}" for u in v.get("docker_users") or []]
    method = v["docker_compose_method"]
    if "{{" in str(method):
        method = v["docker_default_compose_method"]
    if as_bool(v["docker_install_epel"]):
        lines.append(f"{tool} -y install epel-release")
    if as_bool(v["docker_install_pip"]) or method == "pip":
        lines.append(f"{tool} -y install {shlex.quote(v['docker_pip_package'])}")
    if as_bool(v["docker_upgrade_python"]):
        lines.append(f"{tool} -y upgrade 'python*'")
    if method == "pip":
        extra = v.get("docker_compose_pip_extra_args") or ""
        lines.append(f"{v['docker_pip_executable']} install {extra} {shlex.quote(v['docker_compose_pip_package'])}")
    if config:
        lines.append("systemctl restart docker")  # the role's handler: daemon.json was written
    if as_bool(v["docker_verify"]):
        lines += ["docker version", "docker info",
                  "docker compose version" if method == "plugin" else "docker-compose version"]
    return "\n".join(lines) + "\n"


def run_host(name: str, hv: dict[str, Any], extra: dict[str, Any], role_dir: Path) -> tuple[str, int, str]:
    flavor = str(hv.get("lab_flavor", "el9"))
    major = int(flavor[2:]) if flavor.startswith("el") else 9
    body = script(role_vars(role_dir, major, {**hv, **extra}), major)
    ssh = ["ssh", "-o", "BatchMode=yes", "-p", str(hv.get("ansible_port", 22)),
           *shlex.split(hv.get("ansible_ssh_common_args", ""))]
    if hv.get("ansible_ssh_private_key_file"):
        ssh += ["-i", hv["ansible_ssh_private_key_file"]]
    ssh += [f"{hv.get('ansible_user', 'root')}@{hv.get('ansible_host', name)}", "sh -s"]
    res = subprocess.run(ssh, input=body, capture_output=True, text=True)
    return name, res.returncode, res.stdout + res.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inventory", type=Path)
    parser.add_argument("--vars", default="{}", help="the play's role variables (JSON)")
    parser.add_argument("--role-dir", type=Path, default=ROOT / "roles" / "docker")
    parser.add_argument("--print", action="store_true", help="print the first host's script and exit")
    opts = parser.parse_args()
    hosts = inventory_hosts(opts.inventory)
    extra = json.loads(opts.vars)
    if opts.print:
        name, hv = hosts[0]
        flavor = str(hv.get("lab_flavor", "el9"))
        major = int(flavor[2:]) if flavor.startswith("el") else 9
        sys.stdout.write(script(role_vars(opts.role_dir, major, {**hv, **extra}), major))
        return 0
    worst = 0
    with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        for name, rc, out in pool.map(lambda h: run_host(h[0], h[1], extra, opts.role_dir), hosts):
            for line in out.splitlines():
                print(f"{name} | {line}")
            print(f"{name} | RAW-RC={rc}")
            worst = max(worst, rc)
    return worst


if __name__ == "__main__":
    sys.exit(main())
