"""Helpers for planning tests: real probe outputs captured on an EL9 lab host (data/), a bare context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hostprep.modules import get_module
from hostprep.modules.base import Plan, ProbeResult, TaskContext

DATA = Path(__file__).parent / "data"


def captured(name: str) -> ProbeResult:
    """A probe's stdout as captured on an EL9 lab host (see data/README)."""
    return ProbeResult(0, (DATA / name).read_text())


def plan_of(module: str, args: dict[str, Any], probe: ProbeResult | str) -> Plan:
    mod = get_module(module)()
    if isinstance(probe, str):
        probe = ProbeResult(0, probe)
    return mod.plan(mod.validate(args), probe, TaskContext(transport=None, host="h"))  # type: ignore[arg-type]


@pytest.fixture
def ctx() -> TaskContext:
    return TaskContext(transport=None, host="h")  # type: ignore[arg-type]
