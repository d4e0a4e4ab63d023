"""systemd/service, user/group, rpm_key, pip planning from probe outputs captured on an EL9 lab host."""

from __future__ import annotations

import pytest

from hostprep.errors import ModuleArgError
from hostprep.modules import get_module
from hostprep.modules.rpm_key import is_key_id, parse_fingerprints, parse_installed
from hostprep.modules.user import expiry_days
from tests.unit.modules_system.conftest import captured, plan_of

LAB_FPR = "C2EB 35C6 087F 0A6E 800F 9351 E159 5353 D74F 879B"
LAB_KEY = "http://10.231.0.1:8480/RPM-GPG-KEY-hostprep-lab"


def cmds(plan) -> list[str]:
    return [s.cmd for s in plan.steps]


def test_systemd_running_enabled_unit() -> None:
    probe = captured("systemd_ssh.txt")
    ok = plan_of("systemd", {"name": "ssh", "state": "started", "enabled": True}, probe)
    assert not ok.changed and ok.result["enabled"] is True and ok.result["status"]["ActiveState"] == "active"
    stop = plan_of("systemd", {"name": "ssh", "state": "stopped", "enabled": False, "daemon_reload": True}, probe)
    # Ansible's order: enablement, then the state (daemon-reload runs before the probe, not in the plan)
    assert cmds(stop) == ["systemctl disable ssh", "systemctl stop ssh"]
    assert stop.diff == {"before": "enabled: enabled\nstate: active\n", "after": "enabled: disabled\nstate: inactive\n"}
    assert cmds(plan_of("systemd", {"name": "ssh", "state": "restarted", "no_block": True}, probe)) == [
        "systemctl --no-block restart ssh"]
    assert cmds(plan_of("systemd", {"name": "ssh", "state": "reloaded"}, probe)) == ["systemctl reload-or-restart ssh"]


def test_systemd_masked_static_and_missing_units() -> None:
    masked = captured("systemd_masked.txt")
    assert not plan_of("systemd", {"name": "e2scrub_all.timer", "masked": True}, masked).changed
    assert cmds(plan_of("systemd", {"name": "e2scrub_all.timer", "masked": False}, masked)) == [
        "systemctl unmask e2scrub_all.timer"]
    static = captured("systemd_static.txt")
    assert not plan_of("systemd", {"name": "systemd-journal-flush.service", "enabled": True}, static).changed
    assert not plan_of("systemd", {"name": "systemd-journal-flush.service", "enabled": False}, static).changed
    missing = plan_of("systemd", {"name": "nosuch.service", "state": "started"}, captured("systemd_notfound.txt"))
    assert missing.failed and "Could not find the requested service nosuch.service" in missing.msg
    # in check mode a unit written earlier in the play is unknown until the daemon-reload this task asks for
    fresh = plan_of("systemd", {"name": "nosuch.service", "state": "started", "daemon_reload": True},
                    captured("systemd_notfound.txt"))
    assert cmds(fresh) == ["systemctl start nosuch.service"]
    assert not plan_of("systemd", {"daemon_reload": True}, "").changed


def test_systemd_and_service_arguments() -> None:
    systemd = get_module("systemd_service")()
    assert systemd is not None and type(systemd) is type(get_module("systemd")())
    with pytest.raises(ModuleArgError, match="not one of: system"):
        systemd.validate({"name": "x", "scope": "user"})
    with pytest.raises(ModuleArgError, match="name is required"):
        systemd.validate({"state": "started"})
    assert systemd.validate({"daemon-reload": True})["daemon_reload"] is True
    service = get_module("service")()
    # as Ansible's service action on a systemd host: the systemd module's arguments are taken
    assert service.validate({"name": "x", "state": "started", "daemon_reload": True})["daemon_reload"] is True
    with pytest.raises(ModuleArgError, match="unsupported argument 'pattern'"):
        service.validate({"name": "x", "state": "started", "pattern": "x"})
    plan = plan_of("service", {"name": "ssh", "state": "restarted", "sleep": 2}, captured("systemd_ssh.txt"))
    assert cmds(plan) == ["systemctl stop ssh && sleep 2 && systemctl start ssh"]


def test_user_existing_account() -> None:
    probe = captured("user_hpu.txt")
    same = {"name": "hpu", "uid": 3456, "group": "hpg", "groups": ["wheel"], "shell": "/bin/sh",
            "comment": "HP test", "password": "$6$abc$xyz", "expires": 1893456000}
    plan = plan_of("user", same, probe)
    assert not plan.changed
    assert plan.result["uid"] == 3456 and plan.result["group"] == 3456 and plan.result["home"] == "/home/hpu"
    assert plan.result["password"] == "NOT_LOGGING_PASSWORD"
    change = plan_of("user", {**same, "shell": "/bin/bash", "password": "$6$new$hash", "password_lock": True,
                              "groups": ["wheel"], "expires": -1}, probe)
    (step,) = change.steps
    assert step.no_log and step.cmd == "usermod -s /bin/bash -p '$6$new$hash' -e '' -L hpu"
    assert "$6$" not in str(change.diff) and "$6$" not in str(change.result)
    assert cmds(plan_of("user", {"name": "hpu", "groups": [], "append": False}, probe)) == ["usermod -G '' hpu"]
    assert not plan_of("user", {"name": "hpu", "groups": ["wheel"], "append": True}, probe).changed
    missing = plan_of("user", {"name": "hpu", "groups": ["wheel", "nosuchgroup"], "group": "hpg"}, probe)
    assert missing.failed and missing.msg == "Group nosuchgroup does not exist"
    assert cmds(plan_of("user", {"name": "hpu", "state": "absent", "remove": True}, probe)) == ["userdel -r hpu"]


def test_user_new_account_and_password_rules() -> None:
    args = {"name": "nobody-here", "uid": 4000, "group": "hpg", "system": True, "create_home": False,
            "password": "!"}
    assert plan_of("user", args, captured("user_absent.txt")).msg == "Group hpg does not exist"
    plan = plan_of("user", args, captured("user_absent.txt").stdout + "hpg:x:3456:\n")
    assert cmds(plan) == ["useradd -u 4000 -g hpg -p '!' -M -r nobody-here"]
    assert not plan_of("user", {"name": "nobody-here", "state": "absent"}, captured("user_absent.txt")).changed
    user = get_module("user")()
    with pytest.raises(ModuleArgError, match="crypt") as err:
        user.validate({"name": "x", "password": "hunter2"})
    assert "hunter2" not in str(err.value)
    assert expiry_days(1893456000) == "21915" and expiry_days(-1) == ""


def test_group_plans() -> None:
    probe = captured("group_hpg.txt")
    assert not plan_of("group", {"name": "hpg", "gid": 3456}, probe).changed
    assert cmds(plan_of("group", {"name": "hpg", "gid": 4000}, probe)) == ["groupmod -g 4000 hpg"]
    assert cmds(plan_of("group", {"name": "hpg", "state": "absent"}, probe)) == ["groupdel hpg"]
    assert cmds(plan_of("group", {"name": "new", "gid": 5000, "system": True}, "")) == ["groupadd -g 5000 -r new"]


def test_rpm_key_fingerprint_and_state() -> None:
    probe = captured("rpm_key_lab.txt")
    assert parse_fingerprints(probe.stdout) == [LAB_FPR.replace(" ", "")]
    assert parse_installed("d74f879b-6b0a8788\npackage gpg-pubkey is not installed\n") == {"d74f879b"}
    ok = plan_of("rpm_key", {"key": LAB_KEY, "fingerprint": LAB_FPR}, probe)
    assert not ok.changed and ok.result["keyid"] == "d74f879b"
    wrong = plan_of("rpm_key", {"key": LAB_KEY, "fingerprint": "0000" + LAB_FPR[4:]}, probe)
    assert wrong.failed and "does not match" in wrong.msg
    gone = plan_of("rpm_key", {"key": LAB_KEY, "state": "absent"}, probe)
    assert cmds(gone) == ["rpm -e --allmatches gpg-pubkey-d74f879b"]
    fresh = plan_of("rpm_key", {"key": LAB_KEY, "fingerprint": LAB_FPR},
                    probe.stdout.replace("d74f879b-6b0a8788\n", ""))
    # the import re-checks the fetched key's fingerprint before rpm --import
    assert fresh.changed and f"'^fpr:*:{LAB_FPR.replace(' ', '')}:'" in fresh.steps[0].cmd
    assert fresh.steps[0].cmd.endswith('rpm --import "$k"')
    assert is_key_id("0xD74F879B") and not is_key_id(LAB_KEY)
    byid = plan_of("rpm_key", {"key": "0xD74F879B", "state": "absent"}, "@@hostprep:installed@@\nd74f879b-6b0a8788\n")
    assert cmds(byid) == ["rpm -e --allmatches gpg-pubkey-d74f879b"]


def test_pip_latest_in_a_virtualenv() -> None:
    args = {"name": ["hostprep-probe-pkg"], "state": "latest", "virtualenv": "/opt/hpvenv",
            "extra_args": "--no-index --find-links /root/wheels"}
    plan = plan_of("pip", args, captured("pip_venv.txt"))
    assert cmds(plan) == ["/opt/hpvenv/bin/pip install -U --no-index --find-links /root/wheels hostprep-probe-pkg"]
    assert plan.diff == {"before": "hostprep-probe-pkg: 1.0\n", "after": "hostprep-probe-pkg: latest\n"}
    present = plan_of("pip", {**args, "state": "present", "name": ["hostprep_probe_pkg>=1.0,<2"]},
                      captured("pip_venv.txt"))
    assert not present.changed
    assert plan_of("pip", {**args, "state": "present", "name": ["Hostprep.Probe-Pkg==2.0"]},
                   captured("pip_venv.txt")).changed
    new = plan_of("pip", {"name": ["x==1"], "virtualenv": "/opt/new", "virtualenv_command": "python3 -m venv",
                          "virtualenv_site_packages": True}, "@@hostprep:venv@@\nno\n@@hostprep:freeze@@\n")
    assert cmds(new) == ["python3 -m venv --system-site-packages /opt/new", "/opt/new/bin/pip install x==1"]
