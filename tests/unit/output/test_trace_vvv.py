"""-vvv shows each round trip (kind, sizes, exit code, time) and the connection's details, never a secret:
no command text, no file content, no password, no vaulted value."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent / "hostprep"
SECRET = "pa55-w0rd-never-shown"


def test_vvv_counts_round_trips_and_prints_no_secret(tmp_path: Path) -> None:
    (tmp_path / "inv.ini").write_text("h1 ansible_connection=local\n")
    (tmp_path / "site.yml").write_text(f"""
- hosts: all
  gather_facts: false
  vars:
    token: {SECRET}
  tasks:
    - copy: {{dest: "{tmp_path}/f", content: "{{{{ token }}}}"}}
      no_log: true
    - command: echo {{{{ token }}}}
      no_log: true
""")
    proc = subprocess.run([str(BIN), "apply", "-i", "inv.ini", "site.yml", "-vvv"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "<h1> ESTABLISH LOCAL CONNECTION" in proc.stderr
    trips = re.findall(r"<h1> round trip (\d+): (.*) -> (.*) in [0-9.]+s", proc.stderr)
    assert trips and [int(n) for n, _, _ in trips] == list(range(1, len(trips) + 1)), proc.stderr
    assert any(what.startswith("upload of ") and f"to {tmp_path}/f" in what for _, what, _ in trips)
    assert SECRET not in proc.stdout + proc.stderr
    quiet = subprocess.run([str(BIN), "apply", "-i", "inv.ini", "site.yml"], capture_output=True, text=True,
                           cwd=tmp_path, timeout=120)
    assert "round trip" not in quiet.stderr
