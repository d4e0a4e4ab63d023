"""Shared fixtures: lab hosts booted once per test session and removed by name at its end."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

# scripts/test.sh runs the suite (but the cgroup v2 VM) on a pool of xdist workers with `--dist loadfile`, and
# this file's scheduler (pytest_xdist_make_scheduler below) decides what a worker takes at a time: a whole group,
# so that a module's fixtures (a booted lab host, the runtime's state root) are made once and its tests keep
# their order. A group is one test file, except:
# - the modules that share one rebooted lab host per flavour (REBOOT_TEST, tests/integration/conftest.py) go
#   together: the host is prepared for all of them before its one reboot;
# - tests/runtime is one group, run one test at a time as before: its tests change machine-wide packet
#   filter rules, bridges and host ports of the runtime, and some compare them before and after.
# The longest groups are handed out first (LONGEST_FIRST; a stale list only costs time), the short unit test
# files last, where they fill the workers' tails. (xdist's own `loadgroup` cannot be used: it renames the
# node ids to carry the group, which pytest 9 no longer lets a plugin do.)
TESTS = Path(__file__).resolve().parent
REBOOT_MODULES = sorted(f"tests/{p.relative_to(TESTS).as_posix()}" for p in TESTS.glob("*/test_*.py")
                        if re.search(r"^REBOOT_TEST\b", p.read_text(), re.M))
LONGEST_FIRST = [
    "tests/runtime",
    "tests/integration/test_molecule.py",
    "reboot",
    "tests/integration/test_fleet_lab.py",
    "tests/integration/test_docker_role_lab.py",
    "tests/integration/test_ansible_twin_lab.py",
    "tests/integration/test_galaxy_roles_twin_lab.py",
    "tests/integration/test_first_apply_fast_lab.py",
    "tests/integration/test_fleet_transport_lab.py",
]


def group_of(nodeid: str) -> str:
    """The group (see above) of a test, by its node id."""
    path = nodeid.split("::", 1)[0]
    if path in REBOOT_MODULES:
        return "reboot"
    if path.startswith("tests/runtime/"):
        return "tests/runtime"
    return path


def _rank(group: str) -> tuple[int, int]:
    if group in LONGEST_FIRST:
        return (0, LONGEST_FIRST.index(group))
    return (2 if group.startswith("tests/unit/") else 1, 0)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker: the tests in the order their groups are to be handed out (stable: a group keeps its
    own order). Every worker sorts alike, so the collections the scheduler compares stay the same."""
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: _rank(group_of(item.nodeid)))


class _GroupScheduler:
    """The plugin that gives xdist the scheduler above; registered only where xdist is (the suite inside the
    cgroup v2 VM runs without it, and pytest refuses a hook nobody declared)."""

    @staticmethod
    def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN205 - xdist's Scheduling
        """`--dist loadfile` with the groups above (with --no-loadscope-reorder: in the workers' order)."""
        if config.getvalue("dist") != "loadfile":
            return None
        from xdist.scheduler import LoadFileScheduling

        class GroupScheduling(LoadFileScheduling):
            def _split_scope(self, nodeid: str) -> str:
                return group_of(nodeid)

        return GroupScheduling(config, log)


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_GroupScheduler(), "hostprep-group-scheduler")


class Lab:
    """Boots lab hosts for tests and remembers every name it started, to remove exactly those."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self._cache: dict[tuple[int, str, str], list] = {}

    def up(self, n: int = 1, flavor: str = "el9", name: str = "t") -> list:
        from hostprep.lab.api import up

        key = (n, flavor, name)
        if key not in self._cache:
            prefix = f"pt{os.getpid() % 10000}-{name}"
            hosts = up(n, flavor, prefix)
            self.started.append(prefix)
            self._cache[key] = hosts
        return self._cache[key]

    def down(self, name: str) -> None:
        from hostprep.lab.api import down

        prefix = f"pt{os.getpid() % 10000}-{name}"
        down(name=prefix)
        self._cache = {k: v for k, v in self._cache.items() if k[2] != name}
        if prefix in self.started:
            self.started.remove(prefix)

    def close(self) -> None:
        from hostprep.lab.api import down

        for prefix in self.started:
            down(name=prefix)
        self.started.clear()


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        raise RuntimeError("lab tests need root: run the suite as root (scripts/test.sh)")
    lab = Lab()
    try:
        yield lab
    finally:
        lab.close()
