"""Regenerate the probe outputs the unit tests read ("captures") on lab hosts, and check that they are current.

Every capture is listed in tests/data/captures.yml with what makes it: the probe (a module with its arguments,
the facts script, or the runtime role's listing), where it runs (an EL9 or EL7 lab host, or this machine), as
which user, and the setup that puts the host into the state the capture shows. Beside each, the sha256 of the
probe's text is recorded when the capture is made: tests/unit/test_captures_fresh.py fails when the code now
makes a different probe (the capture is older than the probe that makes it) or when a capture is not listed.
Captures are written only by this script, never by hand.

    python scripts/capture_probes.py --check       # what the test checks (no host needed)
    python scripts/capture_probes.py               # regenerate every capture (root; boots lab hosts; minutes)
    python scripts/capture_probes.py --only dnf_   # only the captures whose path contains "dnf_"
    python scripts/capture_probes.py --out DIR     # write under DIR instead (to compare), manifest untouched
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "tests" / "data" / "captures.yml"
# where captures live, beside the tests that read them; every *.txt there must be in the manifest
CAPTURE_DIRS = ("tests/unit/modules/data", "tests/unit/facts/data")
HEADER = """\
# What makes each captured probe output (see tests/data/README.md). Written by scripts/capture_probes.py:
# `path` the capture, `host` el9/el7 (a fresh lab host) or local (this machine), `user` root or deploy,
# `probe` {module, args} or {facts: true} or {runtime_listing: true}, `setup` shell run as root before the
# probe ({repo} is the lab repository's URL), `wheels` {directory: version} uploaded first, `apply` a playbook
# (with inventory files of variables) applied first, `probe_sha256` the probe text's hash when captured.
"""


def load_manifest(path: Path = MANIFEST) -> list[dict[str, Any]]:
    return yaml.safe_load(path.read_text())["captures"]


def save_manifest(entries: list[dict[str, Any]], path: Path = MANIFEST) -> None:
    path.write_text(HEADER + yaml.safe_dump({"captures": entries}, sort_keys=False, width=110))


def probe_text(entry: dict[str, Any]) -> str:
    """The probe the current code sends for this capture."""
    probe = entry["probe"]
    if probe.get("facts"):
        from hostprep.facts import facts_script

        return facts_script()
    if probe.get("runtime_listing"):
        from hostprep.modules import get_module

        mod = get_module("hostprep.runtime.container")()
        return mod.probe(mod.validate({"name": "demo", "image": "demo-tools"}))
    from hostprep.modules import get_module

    mod = get_module(probe["module"])()
    text = mod.probe(mod.validate(probe["args"]))
    if text is None:
        raise ValueError(f"{entry['path']}: module {probe['module']} has no probe")
    return text


def probe_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(probe_text(entry).encode()).hexdigest()


def unlisted(entries: list[dict[str, Any]]) -> list[str]:
    listed = {e["path"] for e in entries}
    found = {str(p.relative_to(ROOT)) for d in CAPTURE_DIRS for p in (ROOT / d).glob("*.txt")}
    return sorted(found - listed) + [f"{p} (listed, but missing)" for p in sorted(listed - found)]


def stale(entries: list[dict[str, Any]]) -> list[str]:
    """Captures whose probe changed since they were made."""
    return [e["path"] for e in entries if probe_hash(e) != e.get("probe_sha256")]


# -- regeneration ------------------------------------------------------------------------------------------------
def _run_local(text: str) -> str:
    """On this machine as a fresh root login would run it: a clean environment, not this process's (a venv's
    PATH would become the facts' Python)."""
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "USER": "root",
           "LOGNAME": "root", "SHELL": "/bin/bash"}
    res = subprocess.run(["sh", "-c", text], capture_output=True, text=True, timeout=300, env=env, cwd="/root")
    return res.stdout


def _prepare(entry: dict[str, Any], host: Any, root_t: Any, workdir: Path, repo: str) -> None:
    from tests.integration.labutil import make_wheel

    for directory, version in (entry.get("wheels") or {}).items():
        whl = make_wheel(workdir / f"wheels-{version}", version=str(version))
        root_t.run(f"mkdir -p {directory}")
        root_t.put(whl.read_bytes(), f"{directory}/{whl.name}")
    if entry.get("apply"):
        inventory = workdir / f"{host.name}.yml"
        from hostprep.lab.api import lab_vars

        inventory.write_text(yaml.safe_dump({"all": {"vars": lab_vars(), "hosts": {host.name: host.hostvars}}}))
        *variables, playbook = entry["apply"]
        cmd = [str(Path(sys.executable).parent / "hostprep"), "apply", "-i", str(inventory)]
        for extra in variables:
            cmd += ["-i", str(ROOT / extra)]
        res = subprocess.run(cmd + [str(ROOT / playbook)], capture_output=True, text=True, cwd=ROOT, timeout=1800)
        if res.returncode != 0:
            raise SystemExit(f"{entry['path']}: apply failed:\n{res.stdout[-3000:]}\n{res.stderr[-2000:]}")
    if entry.get("setup"):
        res = root_t.run(entry["setup"].replace("{repo}", repo))
        if res.rc != 0:
            raise SystemExit(f"{entry['path']}: setup failed ({res.rc}):\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")


def regenerate(entries: list[dict[str, Any]], out: Path) -> None:
    """Make every capture of `entries` again on fresh lab hosts (one per flavour, in manifest order)."""
    from hostprep.lab import paths
    from hostprep.lab.api import down, up
    from hostprep.transport.connect import open_transport

    for flavor in ("local", "el9", "el7"):
        todo = [e for e in entries if e["host"] == flavor]
        if not todo:
            continue
        if flavor == "local":
            for e in todo:
                _write(out / e["path"], _run_local(probe_text(e)))
                e["probe_sha256"] = probe_hash(e)
            continue
        name = f"capture-{flavor}"  # a fixed name: the host names in the captures stay the same from run to run
        (host,) = up(1, flavor, name)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                for e in todo:
                    root_t = open_transport(host.name, host.hostvars)
                    try:
                        _prepare(e, host, root_t, Path(tmp), paths.REPO_URL)
                    finally:
                        root_t.close()
                    hv = host.deploy_hostvars if e.get("user") == "deploy" else host.hostvars
                    t = open_transport(host.name, {**hv, "ansible_become": False})
                    try:
                        res = t.run(probe_text(e))
                    finally:
                        t.close()
                    _write(out / e["path"], res.stdout)
                    e["probe_sha256"] = probe_hash(e)
                    print(f"captured {e['path']} on {flavor} (rc {res.rc})")
        finally:
            down(name=name)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only check that every capture is listed and current")
    ap.add_argument("--only", action="append", default=[], help="regenerate captures whose path contains this")
    ap.add_argument("--out", type=Path, help="write captures under this directory; the manifest is not changed")
    opts = ap.parse_args(argv)
    entries = load_manifest()
    if opts.check:
        problems = [f"not in {MANIFEST.relative_to(ROOT)}: {p}" for p in unlisted(entries)]
        problems += [f"older than its probe: {p}" for p in stale(entries)]
        for line in problems:
            print(line)
        return 1 if problems else 0
    chosen = [e for e in entries if not opts.only or any(o in e["path"] for o in opts.only)]
    if os.geteuid() != 0:
        raise SystemExit("lab hosts need root")
    regenerate(chosen, opts.out or ROOT)
    if not opts.out:
        save_manifest(entries)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
