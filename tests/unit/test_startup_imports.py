"""A plain `hostprep apply` imports only what the run needs (issue 17 §4: start-up).

Checked on a real run (what sys.modules holds at exit, local connection): no live display library when the
output is not a terminal, no lab or verify code, and only the modules the play's tasks use.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

NOT_NEEDED = ("rich", "hostprep.lab", "hostprep.verify", "hostprep.runtime", "tarfile", "zipfile", "urllib.request",
              "hostprep.modules.unarchive", "hostprep.modules.dnf", "hostprep.modules.get_url")


def test_a_noop_apply_imports_only_what_it_needs(tmp_path: Path) -> None:
    (tmp_path / "hosts.ini").write_text("[all]\nlocalhost ansible_connection=local\n")
    (tmp_path / "play.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        f"    - copy: content=x dest={tmp_path}/out mode=0644\n"
        "    - debug: msg=done\n")
    listing = tmp_path / "modules.txt"
    code = ("import atexit, runpy, sys\n"
            f"atexit.register(lambda: open({str(listing)!r}, 'w').write('\\n'.join(sorted(sys.modules))))\n"
            f"sys.argv = ['hostprep', 'apply', '-i', {str(tmp_path / 'hosts.ini')!r}, {str(tmp_path / 'play.yml')!r},"
            " '--json']\n"
            "runpy.run_module('hostprep.cli.main', run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    imported = set(listing.read_text().split())
    assert {"hostprep.modules.copy", "hostprep.modules.debug", "jinja2"} <= imported  # the listing itself works
    unwanted = sorted(m for m in imported if any(m == n or m.startswith(n + ".") for n in NOT_NEEDED))
    assert unwanted == []
