"""file's SELinux context arguments (seuser/serole/setype/selevel), as public roles pass them (geerlingguy.mysql).

Ansible sets them only where SELinux is enabled and leaves them alone elsewhere; hostprep does the same:
chcon for the parts that differ, nothing on a host without SELinux, and `_default` (the policy's context,
which needs matchpathcon) refused when reached rather than ignored.
"""

from __future__ import annotations

from pathlib import Path

from hostprep.modules import get_module
from hostprep.modules.base import TaskContext
from hostprep.modules.file import selinux_probe, selinux_steps
from hostprep.transport.local import LocalTransport

ENABLED = "enabled=1\ncontext=system_u:object_r:var_lib_t:s0:c0.c1023\n"


def run(raw: dict, check: bool = False) -> dict:
    mod = get_module("file")()
    return mod.run(mod.validate(raw), TaskContext(transport=LocalTransport(), host="localhost", check_mode=check))


def test_without_selinux_the_context_arguments_change_nothing(tmp_path: Path) -> None:
    assert "selinuxenabled" in selinux_probe("/x")
    raw = {"path": str(tmp_path / "datadir"), "state": "directory", "mode": "0755", "setype": "mysqld_db_t"}
    first = run(raw)
    assert first["changed"] and not first.get("failed"), first
    again = run(raw)
    assert not again["changed"] and not again.get("failed"), again


def test_a_differing_part_is_set_with_chcon() -> None:
    steps, error = selinux_steps("/var/lib/mysql", {"setype": "mysqld_db_t", "seuser": "system_u"}, ENABLED)
    assert error is None
    assert [s.cmd for s in steps] == ["chcon -t mysqld_db_t -- /var/lib/mysql"]
    level = selinux_steps("/d", {"selevel": "s0"}, ENABLED)[0]
    assert [s.cmd for s in level] == ["chcon -l s0 -- /d"]  # the level keeps its own colons (s0:c0.c1023)


def test_matching_context_and_disabled_host_need_nothing() -> None:
    assert selinux_steps("/d", {"setype": "var_lib_t", "selevel": "s0:c0.c1023"}, ENABLED) == ([], None)
    assert selinux_steps("/d", {"setype": "mysqld_db_t"}, "") == ([], None)


def test_policy_default_is_refused_when_selinux_is_enabled() -> None:
    steps, error = selinux_steps("/d", {"setype": "_default"}, ENABLED)
    assert steps == [] and "_default" in error and "not supported by hostprep" in error
