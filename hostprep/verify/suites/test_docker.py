"""testinfra checks of a host converged by roles/docker.

The expected values (pin, users, daemon.json, Compose method, ...) come from the host's own
variables, which `hostprep verify` resolves and hands over in $HOSTPREP_VERIFY_EXPECT (a JSON
file keyed by host name), so the same suite checks any fleet's own settings.
"""

from __future__ import annotations

import json
import os

import pytest


def _expect(host) -> dict:
    path = os.environ.get("HOSTPREP_VERIFY_EXPECT")
    if not path:
        raise RuntimeError("HOSTPREP_VERIFY_EXPECT is not set: run this suite through `hostprep verify`")
    with open(path, encoding="utf-8") as handle:
        table = json.load(handle)
    name = host.backend.get_hostname()
    if name not in table:
        raise RuntimeError(f"no expectations for host {name!r} in {path}")
    return table[name]


@pytest.fixture()
def expect(host) -> dict:
    return _expect(host)


def test_engine_packages_installed(host, expect) -> None:
    for name in expect["engine_packages"]:
        pkg = host.package(name)
        assert pkg.is_installed, f"{name} is not installed"
    if expect["docker_version"]:
        assert host.package("docker-ce").version == expect["docker_version"]
        assert host.package("docker-ce-cli").version == expect["docker_version"]


def test_conflicting_packages_absent(host, expect) -> None:
    if not expect["remove_conflicts"]:
        return
    present = [n for n in expect["conflicting_packages"] if host.package(n).is_installed]
    assert present == []


def test_el7_prerequisites(host, expect) -> None:
    for name in expect["prerequisites"]:
        assert host.package(name).is_installed, f"prerequisite {name} is missing"
    if expect["major"] == 7:
        assert host.exists("yum-config-manager")


def test_repository_file_and_channels(host, expect) -> None:
    repo = host.file("/etc/yum.repos.d/docker-ce.repo")
    assert repo.is_file
    assert repo.mode == 0o644
    text = repo.content_string
    sections = _ini_sections(text)
    assert sections["docker-ce-stable"]["enabled"] == "1"
    assert sections["docker-ce-stable"]["gpgcheck"] == "1"
    assert sections["docker-ce-stable"]["baseurl"] == expect["repo_base_url"] + "/$releasever/$basearch/stable"
    assert sections["docker-ce-test"]["enabled"] == ("1" if expect["channel_test"] else "0")
    assert sections["docker-ce-nightly"]["enabled"] == ("1" if expect["channel_nightly"] else "0")


def test_gpg_key_imported_with_expected_fingerprint(host, expect) -> None:
    keyid = expect["gpg_fingerprint"].replace(" ", "")[-8:].lower()
    out = host.check_output("rpm -q gpg-pubkey --qf '%{VERSION}\\n'")
    assert keyid in out.split(), f"key {keyid} not imported (have: {out.split()})"


def test_service_enabled_and_running(host, expect) -> None:
    svc = host.service("docker")
    assert svc.is_running
    assert svc.is_enabled == expect["service_enabled"]


def test_docker_socket_listening(host) -> None:
    # /var/run is a link to /run; ss reports the socket under /run
    assert (host.socket("unix:///run/docker.sock").is_listening
            or host.socket("unix:///var/run/docker.sock").is_listening)


def test_docker_info_answers(host) -> None:
    with host.sudo():
        info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert info.get("ServerVersion"), info


def test_daemon_json(host, expect) -> None:
    if not expect["daemon_config"]:
        return
    f = host.file("/etc/docker/daemon.json")
    assert f.is_file
    assert json.loads(f.content_string) == expect["daemon_config"]


def test_users_in_docker_group(host, expect) -> None:
    for user in expect["docker_users"]:
        assert "docker" in host.user(user).groups, f"{user} is not in the docker group"


def test_compose_answers(host, expect) -> None:
    with host.sudo():
        if expect["compose_method"] == "plugin":
            out = host.check_output("docker compose version")
        else:
            out = host.check_output("docker-compose version")
    assert "version" in out.lower()


def _ini_sections(text: str) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
        elif current is not None and "=" in line:
            key, value = line.split("=", 1)
            current[key.strip()] = value.strip()
    return sections
