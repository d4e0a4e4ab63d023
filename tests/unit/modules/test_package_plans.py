"""dnf/yum/package: what is not a plan case (cases/dnf/*.yml hold the plans from captured probe outputs):
the probe's options, backends and argument errors, reading check-update listings, the shared listing."""

from __future__ import annotations

import subprocess

import pytest

from hostprep.errors import ModuleArgError
from hostprep.modules import get_module
from hostprep.modules._sysrpm import parse_check_update, updates_for
from hostprep.modules.dnf import enablerepo_opts


def test_options_reach_the_probe() -> None:
    dnf = get_module("dnf")()
    args = dnf.validate({"name": "yum-utils", "state": "latest", "enablerepo": "lab-extra", "disablerepo": ["a", "b"],
                         "disable_gpg_check": True, "update_cache": True, "install_weak_deps": False,
                         "releasever": "9", "exclude": "kernel*"})
    probe = dnf.probe(args)
    assert f"{enablerepo_opts('lab-extra')} --disablerepo=a --disablerepo=b --exclude='kernel*'" in probe
    assert "--refresh" in probe  # the command side: cases/dnf/options_reach_the_command.yml


def test_enablerepo_matching_no_configured_repository_is_left_out() -> None:
    """As Ansible's dnf (repos.get_matching): a pattern no repository matches enables nothing, where the dnf
    command would fail with "Unknown repo" (geerlingguy.redis passes enablerepo: epel for EL9's AppStream redis).
    This machine has no /etc/yum.repos.d: the option vanishes; a name with blanks is matched literally."""
    script = f"_hp_pkg=dnf; printf '[%s]' {enablerepo_opts('epel')} {enablerepo_opts('a b')}"
    assert subprocess.run(["bash", "-c", script], capture_output=True, text=True).stdout == "[]"
    assert "case $_hp_r in epel*)" in enablerepo_opts("epel*") and "in 'a b')" in enablerepo_opts("a b")


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


# check-update output. Where each line comes from: the docker-ce-cli line was captured on an EL9 lab host
# (data/dnf_system_update.txt; dnf 4 from Debian). The lab's EL7 `yum` is that same dnf under another name
# (hostprep/lab/README.md), so no yum 3 text was captured anywhere: the wrapped long name (name alone on its line)
# and the "Obsoleting Packages" block are written by hand after the layout yum 3 and dnf share (name.arch,
# version, repository in columns; a name too long for its column on a line of its own), not copied from a host.
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


def test_a_shared_listing_is_the_same_command_for_tasks_that_differ_only_in_targets_and_excludes() -> None:
    mod = get_module("dnf")()
    system = mod.probe(mod.validate({"name": "*", "state": "latest", "exclude": ["docker-ce"]}))
    python = mod.probe(mod.validate({"name": "python*", "state": "latest", "update_only": True}))
    other_repo = mod.probe(mod.validate({"name": "python*", "state": "latest", "enablerepo": ["extras"]}))
    assert system is not None and python is not None and other_repo is not None
    shared = system.split("@@hostprep:updates@@", 1)[1]
    assert shared in python and shared not in other_repo and "docker-ce" not in shared
