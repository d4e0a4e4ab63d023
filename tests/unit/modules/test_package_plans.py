"""dnf/yum/package planning from probe outputs captured on an EL9 lab host (data/README has the state)."""

from __future__ import annotations

import pytest

from hostprep.errors import ModuleArgError
from hostprep.modules import get_module
from hostprep.modules._sysrpm import parse_check_update, updates_for
from tests.unit.modules_system.conftest import captured, plan_of

PRESENT = ["docker-ce-cli-24.0.7", "lvm2", "docker-ce-cli >= 1:25", "yum-utils", "docker-ce-cli-26.1.4"]


def test_present_installs_only_what_is_missing_and_shows_versions() -> None:
    plan = plan_of("dnf", {"name": PRESENT}, captured("dnf_present.txt"))
    assert plan.changed and not plan.failed and len(plan.steps) == 1
    cmd = plan.steps[0].cmd
    assert cmd.startswith("_hp_pkg=$(command -v dnf") and " -y install " in cmd
    targets = cmd.split(" install ", 1)[1]
    # installed specs (docker-ce-cli-24.0.7, lvm2) stay out; the rest go in as exact NEVRAs or as written
    assert targets == "'docker-ce-cli >= 1:25' yum-utils-0:1.1.31-1.lab.noarch docker-ce-cli-1:26.1.4-1.lab.x86_64"
    assert plan.diff == {
        "before": "docker-ce-cli: 1:24.0.7-1.lab\nyum-utils: absent\ndocker-ce-cli: 1:24.0.7-1.lab\n",
        "after": "docker-ce-cli: 1:26.1.4-1.lab\nyum-utils: 1.1.31-1.lab\ndocker-ce-cli: 1:26.1.4-1.lab\n",
    }
    assert "Installed: yum-utils-1.1.31-1.lab.noarch" in plan.result["results"]


def test_already_installed_is_ok() -> None:
    plan = plan_of("dnf", {"name": PRESENT[:2]}, captured("dnf_present.txt"))
    assert not plan.changed and plan.steps == [] and plan.msg == "Nothing to do"


def test_unknown_package_fails_like_ansible() -> None:
    plan = plan_of("dnf", {"name": ["lvm2", "docker-ce-cli-0:1.0"]}, captured("dnf_missing.txt"))
    assert plan.failed
    assert plan.msg == "No package matching 'docker-ce-cli-0:1.0' found available, installed or updated"


def test_a_newer_installed_version_is_not_downgraded_unless_allowed() -> None:
    spec = {"name": ["docker-ce-cli-1:24.0.7-1.lab"]}
    plan = plan_of("dnf", spec, captured("dnf_pin_older.txt"))
    assert not plan.changed
    plan = plan_of("dnf", {**spec, "allow_downgrade": True}, captured("dnf_pin_older.txt"))
    assert plan.changed and " downgrade docker-ce-cli-1:24.0.7-1.lab.x86_64" in plan.steps[0].cmd
    assert plan.diff == {"before": "docker-ce-cli: 1:26.1.4-1.lab\n", "after": "docker-ce-cli: 1:24.0.7-1.lab\n"}


def test_latest_upgrades_installs_and_leaves_current_alone() -> None:
    args = {"name": ["docker-ce-cli", "lvm2", "container-selinux"], "state": "latest"}
    plan = plan_of("dnf", args, captured("dnf_latest.txt"))
    cmds = [s.cmd.split('"$_hp_pkg" ', 1)[1] for s in plan.steps]
    assert cmds == ["-y install container-selinux-0:2.221.0-1.lab.noarch",
                    "-y upgrade docker-ce-cli-1:26.1.4-1.lab.x86_64"]
    only = plan_of("dnf", {**args, "update_only": True}, captured("dnf_latest.txt"))
    assert [s.cmd.split('"$_hp_pkg" ', 1)[1] for s in only.steps] == ["-y upgrade docker-ce-cli-1:26.1.4-1.lab.x86_64"]


def test_system_update_from_check_update_exit_code() -> None:
    plan = plan_of("dnf", {"name": "*", "state": "latest"}, captured("dnf_system_update.txt"))
    assert plan.changed and plan.steps[0].cmd.endswith('"$_hp_pkg" -y upgrade')
    quiet = plan_of("dnf", {"name": "*", "state": "latest"}, "@@hostprep:updates@@\nrc=0\n")
    assert not quiet.changed
    refused = plan_of("dnf", {"name": "*", "state": "absent"}, "")
    assert refused.failed and "refusing" in refused.msg


def test_absent_removes_exact_installed_packages() -> None:
    args = {"name": ["docker-ce-cli", "yum-utils", "lvm2 < 3"], "state": "absent"}
    plan = plan_of("dnf", args, captured("dnf_absent.txt"))
    assert plan.steps[0].cmd.endswith(" -y remove docker-ce-cli-1:24.0.7-1.lab.x86_64 lvm2-0:2.03.21-1.lab.noarch")
    assert plan.diff["after"] == "docker-ce-cli: absent\nlvm2: absent\n"
    keep = plan_of("dnf", {**args, "name": ["docker-ce-cli", "yum-utils", "lvm2 > 3"]}, captured("dnf_absent.txt"))
    assert "lvm2" not in keep.steps[0].cmd


def test_rpm_urls_compare_the_file_version() -> None:
    urls = ["http://10.231.0.1:8480/el/9/base/x86_64/Packages/yum-utils-1.1.31-1.lab.noarch.rpm",
            "http://10.231.0.1:8480/el/9/base/x86_64/Packages/lvm2-2.03.21-1.lab.noarch.rpm"]
    plan = plan_of("dnf", {"name": urls}, captured("dnf_rpm_url.txt"))
    assert plan.steps[0].cmd.endswith(f" -y install {urls[0]}")
    assert plan.diff == {"before": "yum-utils: absent\n", "after": "yum-utils: 1.1.31-1.lab\n"}


def test_options_reach_probe_and_command() -> None:
    dnf = get_module("dnf")()
    args = dnf.validate({"name": "yum-utils", "enablerepo": "lab-extra", "disablerepo": ["a", "b"],
                         "disable_gpg_check": True, "update_cache": True, "install_weak_deps": False,
                         "releasever": "9", "exclude": "kernel*"})
    probe = dnf.probe(args)
    assert "--enablerepo=lab-extra --disablerepo=a --disablerepo=b --exclude='kernel*'" in probe
    assert "--refresh" in probe
    plan = plan_of("dnf", {"name": "yum-utils", "enablerepo": "lab-extra", "disable_gpg_check": True,
                           "install_weak_deps": False}, "@@hostprep:pkg0@@\n@@hostprep:cand0@@\nrc=1\n")
    cmd = plan.steps[0].cmd
    assert "--enablerepo=lab-extra" in cmd and "--nogpgcheck" in cmd and "install_weak_deps=False" in cmd
    # the repositories could not be asked (rc=1): install anyway and let dnf report
    assert cmd.endswith(" install yum-utils")


def test_yum_backends_and_argument_errors() -> None:
    yum = get_module("yum")()
    assert yum.tool(yum.validate({"name": "x", "use_backend": "yum"})).startswith("_hp_pkg=$(command -v yum ")
    assert "command -v dnf || command -v yum" in yum.tool(yum.validate({"name": "x"}))
    with pytest.raises(ModuleArgError, match="not one of"):
        yum.validate({"name": "x", "state": "purged"})
    with pytest.raises(ModuleArgError, match="unsupported argument 'list'"):
        get_module("dnf")().validate({"list": "installed"})
    with pytest.raises(ModuleArgError, match="missing required argument 'state'"):
        get_module("package")().validate({"name": "curl"})
    assert get_module("ansible.builtin.yum") is get_module("yum")


# check-update as EL7's yum and EL9's dnf print it (captured on lab hosts), plus the forms yum/dnf
# use for long names (name alone on its line) and for obsoletes.
LISTING = """
docker-ce-cli.x86_64               1:26.1.4-1.lab               docker-ce-stable
python3-setuptools-wheel-with-a-long-name.noarch
                                   53.0.0-12.el9                baseos
python3-pip.noarch                 21.2.3-8.el9                 appstream
Obsoleting Packages
python3-pip-wheel.noarch           21.2.3-8.el9                 appstream
    python-pip-wheel.noarch        20.0-1.el9                   @System
rc=100
"""


def test_check_update_listing_is_read_in_threes_across_wrapped_lines() -> None:
    parsed = parse_check_update(LISTING)
    assert parsed is not None
    rc, updates = parsed
    assert rc == 100
    assert [(u.name, u.arch, u.evr) for u in updates] == [
        ("docker-ce-cli", "x86_64", "1:26.1.4-1.lab"),
        ("python3-setuptools-wheel-with-a-long-name", "noarch", "53.0.0-12.el9"),
        ("python3-pip", "noarch", "21.2.3-8.el9"),
        ("python3-pip-wheel", "noarch", "21.2.3-8.el9"),
        ("python-pip-wheel", "noarch", "20.0-1.el9"),
    ]
    assert parse_check_update("\nrc=0\n") == (0, [])
    # an unexpected message cannot be read in threes: unreadable, not "no updates"
    assert parse_check_update("Security: kernel-5 is an installed security update\nrc=100\n") is None
    assert parse_check_update("docker-ce-cli.x86_64 1:26.1.4-1.lab\n") is None


def test_updates_match_name_or_name_arch_globs_minus_excludes() -> None:
    parsed = parse_check_update(LISTING)
    assert parsed is not None
    updates = parsed[1]
    assert {u.name for u in updates_for(updates, "python*", [])} == {
        "python3-setuptools-wheel-with-a-long-name", "python3-pip", "python3-pip-wheel", "python-pip-wheel"}
    assert [u.name for u in updates_for(updates, "*.x86_64", [])] == ["docker-ce-cli"]
    assert updates_for(updates, "docker*", ["docker-ce-cli"]) == []
    assert len(updates_for(updates, "*", ["docker-ce*", "python*"])) == 0
    assert len(updates_for(updates, "*", ["python3-pip.noarch"])) == 4


def test_one_shared_listing_answers_each_glob_task_with_its_own_excludes() -> None:
    probe = "@@hostprep:updates@@\n" + LISTING
    docker_only = LISTING.replace("python", "xpython")
    assert plan_of("dnf", {"name": "*", "state": "latest"}, probe).changed
    pinned = {"name": "*", "state": "latest", "exclude": ["docker-ce", "docker-ce-cli", "xpython*"]}
    assert plan_of("dnf", pinned, probe).changed  # python updates remain
    quiet = plan_of("dnf", pinned, "@@hostprep:updates@@\n" + docker_only)
    assert not quiet.changed and quiet.msg == "Nothing to do"
    py = {"name": "python*", "state": "latest", "update_only": True}
    assert plan_of("dnf", py, probe).steps[0].cmd.endswith(" upgrade 'python*'")
    assert not plan_of("dnf", py, "@@hostprep:updates@@\n" + docker_only).changed


def test_a_shared_listing_is_the_same_command_for_tasks_that_differ_only_in_targets_and_excludes() -> None:
    mod = get_module("dnf")()
    system = mod.probe(mod.validate({"name": "*", "state": "latest", "exclude": ["docker-ce"]}))
    python = mod.probe(mod.validate({"name": "python*", "state": "latest", "update_only": True}))
    other_repo = mod.probe(mod.validate({"name": "python*", "state": "latest", "enablerepo": ["extras"]}))
    assert system is not None and python is not None and other_repo is not None
    shared = system.split("@@hostprep:updates@@", 1)[1]
    assert shared in python and shared not in other_repo and "docker-ce" not in shared
