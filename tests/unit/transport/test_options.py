"""Command-line connection options under a host's variables (Ansible's precedence), and how the
SSH settings are read from variables, ssh args and the command line."""

from __future__ import annotations

import pytest

from hostprep.errors import InputError
from hostprep.transport.connect import become_from_vars
from hostprep.transport.options import ConnectionOptions, layered
from hostprep.transport.settings import SSHSettings, parse_ssh_args


def test_cli_values_are_the_lowest_precedence() -> None:
    cli = ConnectionOptions(user="cliuser", private_key="/k/cli", become=True, become_user="app",
                            become_password="clipw", timeout=3, password="sshpw")
    # a host that says nothing takes every command-line value
    hv = layered({"ansible_host": "h1"}, cli)
    assert hv["ansible_user"] == "cliuser"
    assert hv["ansible_ssh_private_key_file"] == "/k/cli"
    assert hv["ansible_become"] is True and hv["ansible_become_user"] == "app"
    assert hv["ansible_become_password"] == "clipw" and hv["ansible_password"] == "sshpw"
    assert hv["ansible_timeout"] == 3
    # any inventory value wins, also under its alias (ansible_ssh_user, ansible_become_pass, ...)
    hv = layered({"ansible_ssh_user": "invuser", "ansible_become_pass": "invpw", "ansible_become": False,
                  "ansible_private_key_file": "/k/inv", "ansible_ssh_timeout": 9}, cli)
    assert "ansible_user" not in hv and hv["ansible_ssh_user"] == "invuser"
    assert "ansible_become_password" not in hv and hv["ansible_become_pass"] == "invpw"
    assert hv["ansible_become"] is False
    assert "ansible_ssh_private_key_file" not in hv
    assert "ansible_timeout" not in hv
    s = SSHSettings.from_hostvars("h", hv)
    assert (s.user, s.key_files, s.connect_timeout) == ("invuser", ["/k/inv"], 9.0)


def test_extra_vars_beat_inventory() -> None:
    cli = ConnectionOptions(user="cliuser", forced={"ansible_ssh_user": "extra", "ansible_port": 2222})
    hv = layered({"ansible_user": "inv", "ansible_port": 22}, cli)
    s = SSHSettings.from_hostvars("h", hv)
    assert (s.user, s.port) == ("extra", 2222)


def test_become_from_vars_uses_cli_under_keywords_and_vars() -> None:
    cli = ConnectionOptions(become=True, become_user="app", become_password="clipw")
    b = become_from_vars({}, cli=cli)
    assert (b.enabled, b.user, b.password) == (True, "app", "clipw")
    # play/task keywords win over -b / --become-user
    b = become_from_vars({}, enabled=False, user="other", cli=cli)
    assert (b.enabled, b.user) == (False, "other")
    # a host's own password wins over -K
    assert become_from_vars({"ansible_become_password": "hostpw"}, cli=cli).password == "hostpw"
    # without the run's options (no process-wide slot), nothing of them is seen
    b = become_from_vars({})
    assert (b.enabled, b.user, b.password) == (False, "root", None)


def test_host_key_policy_sources() -> None:
    def policy(hv: dict, cli: str | None = None) -> tuple[str, str]:
        s = SSHSettings.from_hostvars("h", layered(hv, ConnectionOptions(host_key_policy=cli)))
        return s.host_key_policy, s.host_key_policy_source

    assert policy({}) == ("strict", "default")
    assert policy({}, "accept-new") == ("accept-new", "cli")
    assert policy({"ansible_ssh_common_args": "-o StrictHostKeyChecking=no"}, "strict") == ("off", "host")
    assert policy({"ansible_host_key_checking": False}, "accept-new") == ("off", "host")
    assert policy({"hostprep_host_key_policy": "accept-new"}, "off") == ("accept-new", "host")
    assert policy({"ansible_ssh_common_args": "-o StrictHostKeyChecking=yes"}, "off") == ("strict", "host")
    with pytest.raises(InputError):
        policy({"hostprep_host_key_policy": "maybe"})


def test_ssh_config_file_and_known_hosts_from_args() -> None:
    cli = ConnectionOptions(ssh_config="/cli/config")
    s = SSHSettings.from_hostvars("h", layered({}, cli))
    assert s.ssh_config == "/cli/config"
    s = SSHSettings.from_hostvars("h", layered({"ansible_ssh_common_args": "-F /inv/config"}, cli))
    assert s.ssh_config == "/inv/config"
    s = SSHSettings.from_hostvars("h", {"ansible_ssh_common_args": "-o UserKnownHostsFile='/a /b' -J j1,j2"})
    assert [str(p) for p in s.known_hosts_files or []] == ["/a", "/b"] and str(s.known_hosts) == "/a"
    assert s.proxy_jump == "j1,j2"
    # unset means: ssh_config decides (Fabric reads it at connect time)
    s = SSHSettings.from_hostvars("web1", {})
    assert (s.host, s.port, s.user, s.connect_timeout) == ("web1", None, None, None)


def test_parse_ssh_args_first_value_wins_like_ssh() -> None:
    opts = parse_ssh_args("-o Port=1 -o Port=2 -oUser=a -J x@y:3 -i ~/k")
    assert opts == {"port": "1", "user": "a", "proxyjump": "x@y:3", "identityfile": "~/k"}
