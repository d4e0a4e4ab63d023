"""Module plans as data: every file `cases/<module>/<case>.yml` is one case, run by one test function.

A case gives the module's arguments and the probe's output (`probe`: a file in data/ captured on a real
host, see data/README; or `probe_stdout` inline), and the plan expected from them: `changed`, `failed`,
`msg`, the exact commands of its steps, its `diff` and, under `result`, values the plan returns (a
mapping there is a part of the returned one). Adding a case is adding a file (pyinfra's
tests/operations work the same way).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hostprep.modules.base import Command, Upload
from tests.unit.modules.conftest import captured, plan_of

CASES = Path(__file__).parent / "cases"
KEYS = {"doc", "args", "probe", "probe_stdout", "expect"}
EXPECT_KEYS = {"changed", "failed", "msg", "steps", "diff", "result"}


def _cases() -> list[Any]:
    out = []
    for path in sorted(CASES.glob("*/*.yml")):
        out.append(pytest.param(path, id=f"{path.parent.name}/{path.stem}"))
    return out


def _contains(actual: Any, expected: Any) -> bool:
    """`expected` as a part of `actual`: a mapping's keys are checked one by one, anything else is equal."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and _contains(actual[k], v) for k, v in expected.items())
    return actual == expected


def _step(step: Command | Upload) -> str:
    return step.cmd if isinstance(step, Command) else f"upload {step.dest} mode={step.mode}"


def test_there_are_cases() -> None:
    assert len(_cases()) >= 10


@pytest.mark.parametrize("path", _cases())
def test_plan_case(path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    assert set(case) <= KEYS and "doc" in case, f"{path}: unknown keys {set(case) - KEYS}"
    expect = case["expect"]
    assert set(expect) <= EXPECT_KEYS, f"{path}: unknown expectations {set(expect) - EXPECT_KEYS}"
    probe = captured(case["probe"]) if "probe" in case else case.get("probe_stdout", "")
    plan = plan_of(path.parent.name, case["args"], probe)
    assert plan.changed is expect["changed"] and plan.failed is expect.get("failed", False)
    assert [_step(s) for s in plan.steps] == expect.get("steps", [])
    if "msg" in expect:
        assert plan.msg == expect["msg"]
    if "diff" in expect:
        assert plan.diff == expect["diff"]
    for key, value in (expect.get("result") or {}).items():
        assert _contains(plan.result.get(key), value), (key, plan.result.get(key))
