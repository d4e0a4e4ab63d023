"""Registered results on twin EL9 lab hosts: the result oracle's playbook (command, shell, file, copy, template,
stat, skipped tasks) applied by hostprep to one host and by ansible-playbook to its twin over SSH, the
documented keys compared (timestamps and temporary paths aside)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.integration.ansible_versions import ansible_bin
from tests.integration.labutil import hostprep, ssh, write_inventory
from tests.integration.test_ansible_twin_lab import _ansible_env
from tests.unit.modules.test_result_oracle import PLAYBOOK, _differences, _without_volatile_diff

WORK = "/tmp/hp-result-oracle/w"
OUT = "/tmp/hp-result-oracle/out.json"


def test_registered_results_match_on_el9_twins(lab, tmp_path: Path) -> None:
    ours, theirs = lab.up(2, "el9", "results")
    (tmp_path / "t.j2").write_text("port={{ 80 + 1 }}\n")
    (tmp_path / "s.sh").write_text("#!/bin/sh\necho \"arg $1\"\necho e >&2\n")
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    extra = {"work": WORK, "out": OUT, "url": "", "src_dir": str(tmp_path)}
    inv_ours = write_inventory(tmp_path / "ours.yml", [ours], extra=extra)
    inv_theirs = write_inventory(tmp_path / "theirs.yml", [theirs], extra=extra)
    proc = hostprep("apply", "-i", str(inv_ours), str(tmp_path / "site.yml"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    ans = subprocess.run([str(ansible_bin("el9") / "ansible-playbook"), "-i", str(inv_theirs),
                          str(tmp_path / "site.yml")], capture_output=True, text=True,
                         env=_ansible_env(tmp_path, "/usr/bin/python3"), cwd=tmp_path, timeout=900)
    assert ans.returncode == 0, ans.stdout[-3000:] + ans.stderr[-2000:]
    got = json.loads(ssh(ours, f"cat {OUT}").stdout)
    want = json.loads(ssh(theirs, f"cat {OUT}").stdout)
    _without_volatile_diff(got)
    _without_volatile_diff(want)
    # Ansible's raw and script run over SSH on a pty (-tt): stderr merged into stdout with \r\n and ssh's
    # "Shared connection ... closed." as stderr; hostprep keeps the streams apart (compared locally instead)
    for task in ("raw", "script"):
        got.pop(task)
        want.pop(task)
    diffs = _differences(got, want)
    assert not diffs, "\n".join(diffs)
    assert got["command"]["cmd"] == ["echo", "one", "two"] and got["stat"]["stat"]["mimetype"] == "text/plain"
