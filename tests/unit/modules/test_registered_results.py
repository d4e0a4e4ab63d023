"""Registered results worked out from captured probe output, field by field as Ansible's modules return them."""

from __future__ import annotations

from hostprep.modules.base import ProbeResult
from hostprep.modules.systemd import plan_unit

# `systemctl show docker` (trimmed) as an EL9 host prints it, then the is-enabled answer the probe adds
SHOW = """Type=notify
ExecStart={ path=/usr/bin/dockerd ; argv[]=/usr/bin/dockerd -H fd:// ; ignore_errors=no ; start_time=[n/a] }
ExecReload={ path=/bin/kill ; argv[]=/bin/kill -s HUP $MAINPID ;
 ignore_errors=no }
MainPID=0
Id=docker.service
Description=Docker Application Container Engine
LoadState=loaded
ActiveState=inactive
SubState=dead
UnitFileState=enabled-runtime
is_enabled=enabled-runtime
"""


def test_systemd_status_is_the_whole_systemctl_show_as_ansible_parses_it() -> None:
    plan = plan_unit({"name": "docker", "state": "started"}, ProbeResult(0, SHOW, ""))
    status = plan.result["status"]
    assert status["UnitFileState"] == "enabled-runtime" and status["Type"] == "notify"
    assert status["ExecReload"] == "{ path=/bin/kill ; argv[]=/bin/kill -s HUP $MAINPID ;\n ignore_errors=no }"
    assert status["ExecStart"].startswith("{ path=/usr/bin/dockerd") and "is_enabled" not in status
    assert "ignore_errors" not in status and plan.changed


def test_dnf_check_mode_says_what_ansible_says() -> None:
    from pathlib import Path

    from hostprep.modules import get_module
    from hostprep.modules.base import TaskContext

    cls = get_module("dnf")
    assert cls is not None
    module = cls()
    args = module.validate({"name": ["docker-ce-cli-24.0.7", "lvm2", "docker-ce-cli >= 1:25", "yum-utils"]})
    probe = (Path(__file__).parent / "data" / "dnf_present.txt").read_text()
    for check, msg in ((True, "Check mode: No changes made, but would have if not in check mode"), (False, "")):
        ctx = TaskContext(transport=None, host="h", check_mode=check)  # type: ignore[arg-type]
        plan = module.plan(args, ProbeResult(0, probe, ""), ctx)
        assert plan.changed and plan.msg == msg


def test_doc_shows_the_return_values_of_a_module() -> None:
    from click.testing import CliRunner

    from hostprep.cli.doc import command
    from hostprep.modules import get_module
    from hostprep.modules.returns import RETURNS

    assert all(get_module(name) is not None for name in RETURNS), sorted(n for n in RETURNS if not get_module(n))
    out = CliRunner().invoke(command, ["get_url"], env={"COLUMNS": "200"})
    assert out.exit_code == 0 and "return values" in out.output
    assert "checksum_src" in out.output and "status_code" in out.output and "failed" in out.output
