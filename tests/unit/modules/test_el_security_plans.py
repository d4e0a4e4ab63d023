"""selinux, seboolean and firewalld planning.

The lab hosts have neither SELinux nor firewalld (a Debian kernel and userland), so these check the
plans from probe output written in the tools' documented formats (getenforce, getsebool, `semanage
boolean -l`, firewall-cmd --state/--query-*), not captured from a host: an honest limit of this test.
"""

from __future__ import annotations

import pytest

from hostprep.errors import ModuleArgError
from hostprep.modules import get_module
from hostprep.playbook.tasks import canonical_module
from tests.unit.modules.conftest import plan_of

CONFIG = "# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n"


def cmds(plan) -> list[str]:
    return [getattr(s, "cmd", f"upload {getattr(s, 'dest', '')}") for s in plan.steps]


def probe(**sections: str) -> str:
    return "".join(f"@@hostprep:{k}@@\n{v}" + ("" if v.endswith("\n") else "\n") for k, v in sections.items())


def test_selinux_runtime_and_config() -> None:
    same = plan_of("selinux", {"state": "enforcing", "policy": "targeted"}, probe(config=CONFIG, runtime="Enforcing"))
    assert not same.changed and same.result["reboot_required"] is False
    perm = plan_of("selinux", {"state": "permissive"}, probe(config=CONFIG, runtime="Enforcing"))
    assert cmds(perm) == ["upload /etc/selinux/config", "setenforce 0"]
    assert perm.steps[0].data.decode() == "# comment\nSELINUX=permissive\nSELINUXTYPE=targeted\n"
    assert "Running SELinux state changed from 'enforcing' to 'permissive'" in perm.result["msg"]
    off = plan_of("selinux", {"state": "disabled"}, probe(config=CONFIG, runtime="Enforcing"))
    assert cmds(off) == ["upload /etc/selinux/config"] and off.result["reboot_required"] is True
    on = plan_of("selinux", {"state": "enforcing"}, probe(config=CONFIG.replace("=enforcing", "=disabled"),
                                                           runtime="Disabled"))
    assert cmds(on) == ["upload /etc/selinux/config"] and on.result["reboot_required"] is True
    missing = plan_of("selinux", {"state": "enforcing"}, probe(config="", runtime="absent"))
    assert missing.failed and "getenforce" in missing.msg


def test_seboolean_runtime_and_persistent() -> None:
    name = "httpd_can_network_connect"
    on_now = probe(runtime=f"{name} --> on", enforce="Enforcing",
                   persistent=f"{name}   (on   ,  off)  Allow httpd to can network connect")
    assert not plan_of("seboolean", {"name": name, "state": True}, on_now).changed
    assert cmds(plan_of("seboolean", {"name": name, "state": True, "persistent": True}, on_now)) == [
        f"setsebool -P {name} on"]
    assert cmds(plan_of("seboolean", {"name": name, "state": False}, on_now)) == [f"setsebool {name} off"]
    unknown = plan_of("seboolean", {"name": "nope", "state": True},
                      probe(runtime="Error: Boolean nope is not defined", enforce="Enforcing", persistent=""))
    assert unknown.failed and "does not exist" in unknown.msg
    disabled = plan_of("seboolean", {"name": name, "state": True}, probe(runtime="", enforce="Disabled"))
    assert disabled.failed and "disabled" in disabled.msg


def test_firewalld_permanent_immediate_and_offline() -> None:
    args = {"service": "https", "permanent": True, "immediate": True, "state": "enabled", "zone": "public"}
    neither = probe(state="running", runtime="no", permanent="no")
    assert cmds(plan_of("firewalld", args, neither)) == [
        "firewall-cmd --permanent --zone=public --add-service=https", "firewall-cmd --zone=public --add-service=https"]
    assert not plan_of("firewalld", args, probe(state="running", runtime="yes", permanent="yes")).changed
    only_perm = plan_of("firewalld", {"port": "8080/tcp", "permanent": True, "state": "disabled"},
                        probe(state="running", runtime="yes", permanent="yes"))
    assert cmds(only_perm) == ["firewall-cmd --permanent --remove-port=8080/tcp"]
    offline = plan_of("firewalld", {"service": "ssh", "permanent": True, "state": "enabled"},
                      probe(state="not running", runtime="no", permanent="no"))
    assert cmds(offline) == ["firewall-offline-cmd --add-service=ssh"]
    stopped = plan_of("firewalld", {"service": "ssh", "state": "enabled"}, probe(state="not running"))
    assert stopped.failed and "not currently running" in stopped.msg
    masq = plan_of("firewalld", {"masquerade": True, "permanent": True, "state": "enabled"},
                   probe(state="running", runtime="no", permanent="no"))
    assert cmds(masq) == ["firewall-cmd --permanent --add-masquerade"]


@pytest.mark.parametrize("args,message", [
    ({"state": "enabled"}, "exactly one of"),
    ({"service": "a", "port": "1/tcp", "state": "enabled"}, "exactly one of"),
    ({"zone": "z", "state": "present", "interface": "eth0"}, "not supported by hostprep"),
])
def test_firewalld_argument_rules(args: dict, message: str) -> None:
    with pytest.raises(ModuleArgError, match=message):
        get_module("firewalld")().validate(args)


def test_collection_names_resolve() -> None:
    for name in ("ansible.posix.firewalld", "ansible.posix.selinux", "ansible.posix.seboolean",
                 "community.general.ini_file", "ansible.builtin.uri", "ansible.builtin.ping"):
        assert get_module(canonical_module(name)) is not None, name
