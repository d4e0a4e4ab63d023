"""systemd/service arguments, user and rpm_key planning from probe outputs captured on an EL9 lab host
(the systemd, service, group and pip plans are data: cases/<module>/*.yml)."""

from __future__ import annotations

import pytest

from hostprep.errors import ModuleArgError
from hostprep.modules import get_module
from hostprep.modules.rpm_key import is_key_id, parse_fingerprints, parse_installed
from hostprep.modules.user import expiry_days
from tests.unit.modules.conftest import captured, plan_of

# the lab signing key of the machine rpm_key_lab.txt was captured on (each machine makes its own key)
LAB_FPR = "7595 FD3A 2269 F1EF 1C65 1236 ECE8 562B A221 E745"
LAB_KEY = "http://10.231.0.1:8480/RPM-GPG-KEY-hostprep-lab"


def cmds(plan) -> list[str]:
    return [s.cmd for s in plan.steps]


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


def test_rpm_key_fingerprint_and_state() -> None:
    probe = captured("rpm_key_lab.txt")
    assert parse_fingerprints(probe.stdout) == [LAB_FPR.replace(" ", "")]
    assert parse_installed("d74f879b-6b0a8788\npackage gpg-pubkey is not installed\n") == {"d74f879b"}
    ok = plan_of("rpm_key", {"key": LAB_KEY, "fingerprint": LAB_FPR}, probe)
    assert not ok.changed and ok.result == {}  # Ansible's rpm_key result: changed alone
    # as Ansible: an imported key is not checked again; one to import must match
    assert not plan_of("rpm_key", {"key": LAB_KEY, "fingerprint": "0000" + LAB_FPR[4:]}, probe).failed
    fresh = type(probe)(0, probe.stdout.split("@@hostprep:installed@@")[0] + "@@hostprep:installed@@\n", "")
    wrong = plan_of("rpm_key", {"key": LAB_KEY, "fingerprint": "0000" + LAB_FPR[4:]}, fresh)
    assert wrong.failed and "does not match" in wrong.msg
    gone = plan_of("rpm_key", {"key": LAB_KEY, "state": "absent"}, probe)
    assert cmds(gone) == ["rpm -e --allmatches gpg-pubkey-a221e745"]
    fresh = plan_of("rpm_key", {"key": LAB_KEY, "fingerprint": LAB_FPR},
                    probe.stdout.replace("a221e745-6b15f494\n", ""))
    # the import re-checks the fetched key's fingerprint before rpm --import
    assert fresh.changed and f"'^fpr:*:{LAB_FPR.replace(' ', '')}:'" in fresh.steps[0].cmd
    assert fresh.steps[0].cmd.endswith('rpm --import "$k"')
    assert is_key_id("0xD74F879B") and not is_key_id(LAB_KEY)
    byid = plan_of("rpm_key", {"key": "0xD74F879B", "state": "absent"}, "@@hostprep:installed@@\nd74f879b-6b0a8788\n")
    assert cmds(byid) == ["rpm -e --allmatches gpg-pubkey-d74f879b"]
