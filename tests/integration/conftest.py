"""Fixtures of the lab integration tests: one reboot per flavour for the tests that check what survives a reboot
(RebootGroup in labutil.py says how)."""

from __future__ import annotations

import pytest

from tests.integration.labutil import RebootGroup


def _taking_part(session: pytest.Session, flavor: str) -> list:
    """The modules whose reboot test runs for this flavour in this session, in the order they run."""
    modules = []
    for item in session.items:
        module = getattr(item, "module", None)
        wanted = getattr(module, "REBOOT_TEST", None)
        params = getattr(getattr(item, "callspec", None), "params", {})
        runs = wanted and getattr(item, "originalname", None) == wanted and flavor in params.values()
        if runs and module not in modules:
            modules.append(module)
    return modules


@pytest.fixture(scope="session")
def reboot_group(request: pytest.FixtureRequest, lab, tmp_path_factory: pytest.TempPathFactory):
    """reboot_group(flavor): the shared, prepared and rebooted host of that flavour (made on first use)."""
    groups: dict[str, RebootGroup] = {}

    def get(flavor: str) -> RebootGroup:
        if flavor not in groups:
            (host,) = lab.up(1, flavor, f"reboot{flavor[-1]}")
            group = RebootGroup(host, flavor, tmp_path_factory.mktemp(f"reboot-{flavor}"), tmp_path_factory)
            for module in _taking_part(request.session, flavor):
                name = module.__name__.rsplit(".", 1)[-1]
                (group.tmp / name).mkdir()
                group.prepare(name, module.REBOOT_OWNS, module.reboot_prepare)
            group.reboot()
            print(f"\nreboot group {flavor}: " + ", ".join(f"{k} {v:.0f}s" for k, v in group.seconds.items()))
            groups[flavor] = group
        return groups[flavor]

    return get
