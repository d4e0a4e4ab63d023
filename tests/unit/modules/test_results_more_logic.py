"""Pure logic behind the registered results of pip, cron, hostname, dnf upgrades and file owner diffs (issue 19):
what each gives Ansible's keys from, without a host (the twin-host oracle is
tests/integration/test_result_oracle_more_lab.py)."""

from __future__ import annotations

from hostprep.modules import get_module
from hostprep.modules._files import numeric_owner_diff
from hostprep.modules.base import ProbeResult, TaskContext
from hostprep.modules.cron import edit_crontab, strip_header
from hostprep.modules.dnf import replaced_packages, transaction_packages
from hostprep.transport.base import RunResult

PIP_PROBE = "@@hostprep:pip@@\n/usr/bin/python3\n-m\npip\n@@hostprep:freeze@@\nhostprep-probe-pkg==1.0\npip==21.3.1\n"


def _plan(module: str, args: dict, stdout: str, *, check: bool = False, diff: bool = False, variables=None):
    mod = get_module(module)()
    ctx = TaskContext(transport=None, host="h", check_mode=check, diff=diff,  # type: ignore[arg-type]
                      variables=variables or {})
    valid = mod.validate(args)
    return mod, valid, mod.plan(valid, ProbeResult(0, stdout), ctx), ctx


def test_pip_result_keys_and_cmd_as_ansible() -> None:
    _m, _a, plan, _c = _plan("pip", {"name": ["hostprep-probe-pkg"], "version": "2.0",
                                     "extra_args": "--no-index --find-links /w"}, PIP_PROBE)
    assert plan.changed
    assert plan.result == {"cmd": ["/usr/bin/python3", "-m", "pip", "install", "--no-index", "--find-links", "/w",
                                   "hostprep-probe-pkg==2.0"],
                           "name": ["hostprep-probe-pkg"], "version": "2.0", "state": "present",
                           "requirements": None, "virtualenv": None, "stdout": "", "stderr": "",
                           "stdout_lines": [], "stderr_lines": []}
    # in the temporary directory, as Ansible runs pip without chdir
    assert plan.steps[0].cmd.startswith('cd "${TMPDIR:-/tmp}" && /usr/bin/python3 -m pip install --no-index')
    # the interpreter Ansible was told to use is its sys.executable
    _m, _a, plan, _c = _plan("pip", {"name": ["x"], "state": "absent"}, PIP_PROBE,
                             variables={"ansible_python_interpreter": "/usr/libexec/platform-python"})
    assert not plan.changed and plan.result["cmd"] == ["/usr/libexec/platform-python", "-m", "pip", "uninstall",
                                                       "-y", "x"]
    # a virtualenv's pip3
    _m, _a, plan, _c = _plan("pip", {"name": ["x"], "virtualenv": "/v"}, "@@hostprep:venv@@\nyes\n")
    assert plan.result["cmd"] == ["/v/bin/pip3", "install", "x"]
    assert get_module("pip").gives_diff is False  # Ansible's pip has no diff


def test_pip_check_mode_as_ansible() -> None:
    _m, _a, plan, _c = _plan("pip", {"name": ["hostprep-probe-pkg"], "extra_args": "--no-index"}, PIP_PROBE,
                             check=True)
    assert plan.changed and plan.result == {}  # extra_args: Ansible cannot tell, says changed
    _m, _a, plan, _c = _plan("pip", {"name": ["hostprep-probe-pkg"]}, PIP_PROBE, check=True)
    assert not plan.changed and plan.result == {"cmd": "/usr/bin/python3 -m pip list --format=freeze",
                                                "stdout": "hostprep-probe-pkg==1.0\npip==21.3.1\n", "stderr": "",
                                                "stdout_lines": ["hostprep-probe-pkg==1.0", "pip==21.3.1"],
                                                "stderr_lines": []}
    _m, _a, plan, _c = _plan("pip", {"name": ["other"]}, PIP_PROBE, check=True)
    assert plan.changed


def test_pip_changed_and_failure_from_pips_output() -> None:
    mod, args, plan, ctx = _plan("pip", {"name": ["hostprep-probe-pkg==2.0"]}, PIP_PROBE)
    out = mod.finish(args, plan, [RunResult(0, "Processing x\nSuccessfully installed hostprep-probe-pkg-2.0\n", "")],
                     ctx)
    assert out["_changed"] and out["stdout"].endswith("hostprep-probe-pkg-2.0\n")
    out = mod.finish(args, plan, [RunResult(0, "Requirement already satisfied: x\n", "")], ctx)
    assert not out["_changed"]
    out = mod.finish(args, plan, [RunResult(1, "", "ERROR: No matching distribution\n")], ctx)
    assert out == {"cmd": plan.result["cmd"], "msg": "\n:stderr: ERROR: No matching distribution\n"}
    assert get_module("pip").reports_rc is False


def test_cron_lines_as_ansible_edits_them() -> None:
    args = {"name": "backup", "state": "present", "job": "/b.sh", "minute": "0", "hour": "5,2", "day": "*",
            "month": "*", "weekday": "*", "disabled": False, "env": False, "special_time": None}
    lines, changed = edit_crontab([], args, in_file=False)
    assert changed and lines == ["#Ansible: backup", "0 5,2 * * * /b.sh"]
    assert edit_crontab(lines, args, in_file=False) == (lines, False)
    moved, changed = edit_crontab(lines, {**args, "minute": "30"}, in_file=False)
    assert changed and moved == ["#Ansible: backup", "30 5,2 * * * /b.sh"]
    gone, changed = edit_crontab(moved, {**args, "state": "absent"}, in_file=False)
    assert changed and gone == []
    env, changed = edit_crontab(moved, {**args, "name": "MAILTO", "env": True, "job": "ops@x"}, in_file=False)
    assert changed and env[0] == 'MAILTO="ops@x"'
    daily, _ = edit_crontab([], {**args, "special_time": "daily", "disabled": True, "user": "root"}, in_file=True)
    assert daily == ["#Ansible: backup", "#@daily root /b.sh"]
    # the header some crons add is not the crontab's
    text = "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n# (/tmp/crontab1 installed on x)\n" \
           "# (Cron version -- x)\n#Ansible: a\n* * * * * b\n"
    assert strip_header(text) == (["#Ansible: a", "* * * * * b"], "#Ansible: a\n* * * * * b\n")


def test_cron_file_removal_result_as_ansible() -> None:
    probe = "@@hostprep:crontab@@\nyes\n" \
        "@@hostprep:exists@@\nyes\n@@hostprep:content@@\nI0Fuc2libGU6IHJvdAoxICogKiAqICogcm9vdCAvYmluL3RydWUK\n"
    args = {"name": "rot", "cron_file": "hp", "state": "absent"}
    _m, _a, plan, _c = _plan("cron", args, probe)
    assert plan.changed and plan.result == {"cron_file": "hp", "state": "absent", "diff": {}}
    _m, _a, plan, _c = _plan("cron", args, probe, diff=True)
    assert plan.result == {"cron_file": "hp", "state": "absent"} and plan.diff["after_header"] == "/dev/null"


def test_dnf_upgrade_lists_the_old_package_as_removed() -> None:
    summary = "Upgraded:\n  docker-ce-cli-1:26.1.4-1.lab.x86_64\nInstalled:\n  dep-1.0-1.noarch\n\nComplete!\n"
    packages = transaction_packages(summary)
    assert replaced_packages(packages, {"docker-ce-cli": "docker-ce-cli-1:24.0.7-1.lab.x86_64"}) == [
        "Removed: docker-ce-cli-1:24.0.7-1.lab.x86_64"]
    assert replaced_packages(packages, {}) == []


def test_file_owner_diff_shows_ids_as_ansible() -> None:
    cur = {"exists": True, "uid": 0, "gid": 0, "owner": "root", "group": "root"}
    before, after = {"owner": "root", "group": "root", "mode": "0644"}, {"owner": "app", "group": "5", "mode": "0640"}
    numeric_owner_diff(before, after, cur, "uid=3950\n")
    assert before == {"owner": 0, "group": 0, "mode": "0644"} and after == {"owner": 3950, "group": 5, "mode": "0640"}
    before, after = {"owner": "root"}, {"owner": "nosuch"}
    numeric_owner_diff(before, after, cur, "uid=\n")
    assert after == {"owner": "nosuch"}  # unresolved: the name as given


def test_hostname_result_carries_its_diff_without_diff_mode() -> None:
    probe = ("@@hostprep:systemd@@\nyes\n@@hostprep:transient@@\nold\n@@hostprep:static@@\nold\n"
             "@@hostprep:current@@\nold\n@@hostprep:fqdn@@\nold\n")
    _m, _a, plan, _c = _plan("hostname", {"name": "new.example.test"}, probe)
    assert plan.result["diff"] == {"before": "hostname = old\n", "after": "hostname = new.example.test\n"}
    assert plan.result["ansible_facts"]["ansible_fqdn"] == "new.example.test"
    _m, _a, plan, _c = _plan("hostname", {"name": "old"}, probe)
    assert not plan.changed and "diff" not in plan.result
