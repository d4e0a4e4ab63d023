"""dnf: a missing package named by its bare name is decided by the install itself (one dnf run, no repoquery
first), and the registered result is Ansible's: `results` lists what the transaction did, dependencies too.

The dnf outputs below were captured on an EL9 lab host (dnf 4.14, LC_ALL=C) on 2026-12-07.
"""

from __future__ import annotations

from hostprep.modules import get_module
from hostprep.modules._sysrpm import PackageSpec
from hostprep.modules.base import ProbeResult, TaskContext
from hostprep.modules.dnf import _bare_name, transaction_packages
from hostprep.transport.base import RunResult

INSTALLED = """Dependencies resolved.
Installing:
 containerd.io            x86_64    1.6.20-3.1.lab    docker-ce-stable     41 M

Transaction Summary
Install  5 Packages

Complete? no: this line is not the summary
Installed:
  containerd.io-1.6.20-3.1.lab.x86_64
  docker-buildx-plugin-0.13.1-1.lab.x86_64
  docker-ce-3:26.1.4-1.lab.x86_64
  docker-ce-cli-1:26.1.4-1.lab.x86_64
  docker-compose-plugin-2.26.1-1.lab.x86_64

Complete!
"""
NOTHING = """Last metadata expiration check: 0:01:04 ago on Mon Dec  7 03:15:05 2026.
Package python3-pip-23.0.1-1.el9.lab.noarch is already installed.
Dependencies resolved.
Nothing to do.
Complete!
"""
NO_MATCH_OUT = ("Last metadata expiration check: 0:01:03 ago on Mon Dec  7 03:15:05 2026.\n"
                "No match for argument: nosuchpkg-x\n")
NO_MATCH_ERR = "Error: Unable to find a match: nosuchpkg-x\n"
ENGINE = ["docker-ce", "docker-ce-cli", "containerd.io", "docker-buildx-plugin", "docker-compose-plugin"]


class Probes:
    """A transport that answers probes from a table and records every command it is given."""

    def __init__(self, answers: dict[str, str] | None = None) -> None:
        self.answers = answers or {}
        self.asked: list[str] = []

    def probe(self, cmd: str, *, become=None, env=None) -> RunResult:  # noqa: ANN001
        self.asked.append(cmd)
        return RunResult(0, next((v for k, v in self.answers.items() if k in cmd), ""), "")


def _missing_probe(names: list[str]) -> str:
    """What the probe prints for named packages rpm does not have (an empty pkg section each)."""
    return "".join(f"@@hostprep:pkg{i}@@\n" for i in range(len(names)))


def test_bare_names_are_told_from_versioned_specs() -> None:
    assert all(_bare_name(PackageSpec.parse(n)) for n in [*ENGINE, "python3-pip", "epel-release", "lvm2.x86_64"])
    for spec in ("docker-ce-3:26.1.4-1.lab", "docker-ce-cli-24.0.7", "xorg-x11-fonts-75dpi", "pkg >= 1.2", "py*"):
        assert not _bare_name(PackageSpec.parse(spec)), spec


def test_a_missing_bare_name_costs_no_candidate_query_and_installs_as_written() -> None:
    dnf = get_module("dnf")()
    args = dnf.validate({"name": ENGINE, "state": "present"})
    probe = dnf.probe(args)
    assert "repoquery" not in probe  # the probe is rpm only
    versioned = dnf.probe(dnf.validate({"name": ["docker-ce-3:26.1.4-1.lab"]}))
    assert "repoquery" in versioned  # a version may be a downgrade: the candidate decides
    plan = dnf.plan(args, ProbeResult(0, _missing_probe(ENGINE)), TaskContext(transport=None, host="h"))
    assert plan.changed and [s.cmd.split("install ", 1)[1] for s in plan.steps] == [" ".join(ENGINE)]


def test_the_result_is_what_the_transaction_did() -> None:
    dnf = get_module("dnf")()
    args = dnf.validate({"name": ENGINE, "state": "present"})
    ctx = TaskContext(transport=None, host="h")
    plan = dnf.plan(args, ProbeResult(0, _missing_probe(ENGINE)), ctx)
    result = dnf.finish(args, plan, [RunResult(0, INSTALLED, "")], ctx)
    assert result["results"] == [
        "Installed: containerd.io-1.6.20-3.1.lab.x86_64", "Installed: docker-buildx-plugin-0.13.1-1.lab.x86_64",
        "Installed: docker-ce-3:26.1.4-1.lab.x86_64", "Installed: docker-ce-cli-1:26.1.4-1.lab.x86_64",
        "Installed: docker-compose-plugin-2.26.1-1.lab.x86_64"]
    assert result["rc"] == 0 and plan.changed and "stdout" not in result
    assert plan.diff["after"].splitlines()[0] == "docker-ce: 3:26.1.4-1.lab"  # the version installed


def test_nothing_to_do_is_ok_and_an_unknown_name_fails_as_ansible_says() -> None:
    dnf = get_module("dnf")()
    args = dnf.validate({"name": ["python3-pip"]})
    ctx = TaskContext(transport=None, host="h")
    plan = dnf.plan(args, ProbeResult(0, _missing_probe(["python3-pip"])), ctx)
    result = dnf.finish(args, plan, [RunResult(0, NOTHING, "")], ctx)
    assert (plan.changed, result["msg"], result["results"]) == (False, "Nothing to do", [])
    args = dnf.validate({"name": ["nosuchpkg-x", "lvm2"]})
    plan = dnf.plan(args, ProbeResult(0, _missing_probe(["x", "y"])), ctx)
    result = dnf.finish(args, plan, [RunResult(1, NO_MATCH_OUT, NO_MATCH_ERR)], ctx)
    assert result["msg"] == "Failed to install some of the specified packages"
    assert result["failures"] == ["No package nosuchpkg-x available."] and result["results"] == []
    assert transaction_packages("Error: something else\n") is None  # unreadable: the plan's account stays


def test_check_mode_still_asks_for_the_candidate() -> None:
    dnf = get_module("dnf")()
    args = dnf.validate({"name": ["nosuchpkg-x"]})
    transport = Probes({"repoquery": "@@hostprep:cand0@@\nrc=0\n@@hostprep:have0@@\n"})  # no candidate
    ctx = TaskContext(transport=transport, host="h", check_mode=True)  # type: ignore[arg-type]
    plan = dnf.plan(args, ProbeResult(0, _missing_probe(["nosuchpkg-x"])), ctx)
    assert len(transport.asked) == 1 and plan.failed and "nosuchpkg-x" in plan.msg


ASSUMENO = """Dependencies resolved.
================================================================================
 Package                 Arch        Version                Repository     Size
================================================================================
Installing:
 lvm2                    noarch      2.03.21-1.lab          lab-base      6.2 k
 python3-pip             noarch      23.0.1-1.el9.lab       lab-base      4.0 M
Installing dependencies:
 python3-setuptools      noarch      58.1.0-1.el9.lab       lab-base      1.6 M

Transaction Summary
================================================================================
Install  3 Packages

Total download size: 5.5 M
Installed size: 15 M
Operation aborted.
"""  # `dnf --assumeno install python3-pip lvm2` on a fresh EL9 lab host (2026-12-07)


def test_check_mode_lists_the_transaction_dnf_would_run_dependencies_too() -> None:
    dnf = get_module("dnf")()
    args = dnf.validate({"name": ["python3-pip", "lvm2"]})
    transport = Probes({"repoquery": "@@hostprep:cand0@@\npython3-pip 0:23.0.1-1.el9.lab.noarch\nrc=0\n"
                                     "@@hostprep:have0@@\n", "--assumeno": ASSUMENO})
    ctx = TaskContext(transport=transport, host="h", check_mode=True)  # type: ignore[arg-type]
    plan = dnf.plan(args, ProbeResult(0, _missing_probe(["python3-pip", "lvm2"])), ctx)
    assert plan.changed and plan.msg.startswith("Check mode: No changes made")
    assert sorted(plan.result["results"]) == ["Installed: lvm2-2.03.21-1.lab.noarch",
                                              "Installed: python3-pip-23.0.1-1.el9.lab.noarch",
                                              "Installed: python3-setuptools-58.1.0-1.el9.lab.noarch"]
    assert any("--assumeno" in cmd and " -y " not in cmd for cmd in transport.asked)
