"""Captured probe outputs (tests/unit/*/data) are made by scripts/capture_probes.py, never by hand, and are not
older than the probes that make them: each is listed in tests/data/captures.yml with the sha256 of the probe text
it was captured with, and the code must still make exactly that probe."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "capture_probes.py"


def _script():
    spec = importlib.util.spec_from_file_location("capture_probes", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("capture_probes", module)
    spec.loader.exec_module(module)
    return module


def test_every_capture_is_listed_with_what_makes_it() -> None:
    cp = _script()
    entries = cp.load_manifest()
    assert cp.unlisted(entries) == [], f"add them to {cp.MANIFEST} and run {SCRIPT.relative_to(ROOT)}"
    for e in entries:
        assert e["host"] in ("el9", "el7", "local") and e["user"] in ("root", "deploy"), e
        assert set(e["probe"]) in ({"module", "args"}, {"facts"}, {"runtime_listing"}), e


def test_no_capture_is_older_than_its_probe() -> None:
    cp = _script()
    stale = cp.stale(cp.load_manifest())
    assert stale == [], (f"the probe changed since these were captured: {stale}; regenerate them with "
                         f"`python {SCRIPT.relative_to(ROOT)} --only NAME` (root, lab hosts)")


def test_the_freshness_check_can_fail() -> None:
    """A probe that is not the recorded one is reported (an argument changed, as when a module's probe grows)."""
    cp = _script()
    entry = dict(next(e for e in cp.load_manifest() if e["probe"].get("module") == "group"))
    entry["probe"] = {"module": "group", "args": {**entry["probe"]["args"], "name": "another"}}
    assert cp.stale([entry]) == [entry["path"]]
