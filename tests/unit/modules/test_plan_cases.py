"""Module plans as data: every file `cases/<module>/<case>.yml` is one case, run by one test function.

A case gives the module's arguments and the probe's output (`probe`: a file in data/ captured on a real
host, see data/README; or `probe_stdout` inline), and the plan expected from them: `changed`, `failed`,
`msg`, the exact commands of its steps, its `diff` and, under `result`, values the plan returns (a
mapping there is a part of the returned one). Adding a case is adding a file (pyinfra's
tests/operations work the same way).

For the file modules: `sources` are the control node's files a case's `src` names (written to a temporary
directory that `find_file` looks in), `vars` the variables a template renders with, and `uploads` the exact
content each upload step writes (by destination). A step that also prints the path's stat afterwards (the
file modules' `with_path_info`) is shown as `COMMAND && (path info PATH)`, or `(path info PATH)` alone, when
its text is exactly that snippet's.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from hostprep.modules import get_module
from hostprep.modules._files import with_path_info
from hostprep.modules.base import Command, ProbeResult, TaskContext, Upload
from hostprep.templating.templar import Templar
from tests.unit.modules.conftest import captured, plan_of

CASES = Path(__file__).parent / "cases"
KEYS = {"doc", "args", "probe", "probe_stdout", "expect", "sources", "vars"}
EXPECT_KEYS = {"changed", "failed", "msg", "steps", "diff", "result", "uploads"}


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
    if isinstance(step, Upload):
        return f"upload {step.dest} mode={step.mode}"
    found = re.search(r"echo '@@hostprep:pathinfo@@'\np=(\S+)\n", step.cmd)
    if found:
        path = found.group(1).strip("'")
        snippet = with_path_info([], path)[0].cmd
        if step.cmd == snippet:
            return f"(path info {path})"
        tail = f"\n}} && {{\n{snippet}\n}}"
        if step.cmd.startswith("{ ") and step.cmd.endswith(tail):
            return f"{step.cmd.removeprefix('{ ').removesuffix(tail)} && (path info {path})"
    return step.cmd


def _plan(path: Path, case: dict[str, Any], probe: ProbeResult | str, tmp: Path):
    """The plan, with a context that finds `sources` and renders templates with `vars` when the case has them."""
    if "sources" not in case and "vars" not in case:
        return plan_of(path.parent.name, case["args"], probe)
    for name, text in (case.get("sources") or {}).items():
        (tmp / name).write_text(text)
    templar = Templar(dict(case.get("vars") or {}))
    ctx = TaskContext(transport=None, host="h", find_file=lambda name, _kind: tmp / name,  # type: ignore[arg-type]
                      render_file=lambda file: templar.render_file(file), templar=templar)
    mod = get_module(path.parent.name)()
    probe = ProbeResult(0, probe) if isinstance(probe, str) else probe
    return mod.plan(mod.validate(case["args"]), probe, ctx)


def test_there_are_cases() -> None:
    assert len(_cases()) >= 10


@pytest.mark.parametrize("path", _cases())
def test_plan_case(path: Path, tmp_path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    assert set(case) <= KEYS and "doc" in case, f"{path}: unknown keys {set(case) - KEYS}"
    expect = case["expect"]
    assert set(expect) <= EXPECT_KEYS, f"{path}: unknown expectations {set(expect) - EXPECT_KEYS}"
    probe = captured(case["probe"]) if "probe" in case else case.get("probe_stdout", "")
    plan = _plan(path, case, probe, tmp_path)
    assert plan.changed is expect["changed"] and plan.failed is expect.get("failed", False)
    assert [_step(s) for s in plan.steps] == expect.get("steps", [])
    if "msg" in expect:
        assert plan.msg == expect["msg"]
    if "diff" in expect:
        assert plan.diff == expect["diff"]
    if "uploads" in expect:
        uploads = {s.dest: s.data.decode() for s in plan.steps if isinstance(s, Upload)}
        assert uploads == expect["uploads"]
    for key, value in (expect.get("result") or {}).items():
        assert _contains(plan.result.get(key), value), (key, plan.result.get(key))
