"""pip (issue 19): hostprep's registered results against ansible-playbook's on the local host, into a virtualenv
each tool makes (python3 -m venv) from a wheel directory the test writes (no index): install into a new
virtualenv, the same again, another version, check mode, uninstall, uninstall again; every key compared (pip's
output aside where hostprep's probe saw nothing to do and pip did not run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from tests.integration.labutil import make_wheel

BIN = Path(sys.executable).parent
A = 'virtualenv: "@W@/venv", virtualenv_command: "@PY@ -m venv", extra_args: "--no-index --find-links @W@/wheels"'
BOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - {pip: {name: [hostprep-probe-pkg==1.0], @A@}, register: add}
    - {pip: {name: [hostprep-probe-pkg==1.0], @A@}, register: again}
    - {pip: {name: [hostprep-probe-pkg], version: "2.0", @A@}, register: version}
    - {pip: {name: hostprep-probe-pkg, virtualenv: "@W@/venv"}, check_mode: true, register: check_there}
    - {pip: {name: hostprep-other, virtualenv: "@W@/venv"}, check_mode: true, register: check_missing}
    - {pip: {name: hostprep-probe-pkg, virtualenv: "@W@/venv", state: absent}, register: absent}
    - {pip: {name: hostprep-probe-pkg, virtualenv: "@W@/venv", state: absent}, register: absent_again}
    - copy:
        dest: "@W@/out.json"
        content: "{{ {'add': add, 'again': again, 'version': version, 'check_there': check_there,
                      'check_missing': check_missing, 'absent': absent, 'absent_again': absent_again} | to_json }}"
""".replace("@A@", A)


def _run(tool: str, work: Path) -> dict:
    make_wheel(work / "wheels", version="1.0")
    make_wheel(work / "wheels", version="2.0")
    book = textwrap.dedent(BOOK).replace("@W@", str(work)).replace("@PY@", "/usr/bin/python3")
    (work / "site.yml").write_text(book)
    (work / "inv.ini").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(work / ".a"), "PIP_FIND_LINKS": "",
           "ANSIBLE_LOCAL_TEMP": str(work / ".t"), "ANSIBLE_RETRY_FILES_ENABLED": "0", "PIP_NO_INDEX": "1"}
    cmd = [str(BIN / tool), *(["apply"] if tool == "hostprep" else []), "-i", "inv.ini", "site.yml"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    # pip names files relative to where it runs: Ansible's temporary directory (hostprep's too)
    text = (work / "out.json").read_text().replace(str(work), "W")
    results = json.loads(text.replace("./" + os.path.relpath(work, tempfile.gettempdir()), "W"))
    for res in results.values():
        res.pop("invocation", None)
    return results


def test_pip_results_as_ansible(tmp_path: Path) -> None:
    seen = {}
    for tool in ("ansible-playbook", "hostprep"):
        work = tmp_path / tool
        work.mkdir()
        seen[tool] = _run(tool, work)
    got, want = seen["hostprep"], seen["ansible-playbook"]
    # Ansible runs pip again when nothing is to do ('Requirement already satisfied', 'Skipping ... as it is not
    # installed'); hostprep's probe saw that and did not run it: no output
    assert "already satisfied" in want["again"]["stdout"] and "not installed" in want["absent_again"]["stderr"]
    for task in ("again", "absent_again"):
        for key in ("stdout", "stderr", "stdout_lines", "stderr_lines"):
            want[task].pop(key)
            assert not got[task].pop(key)
    diffs = [f"{task}.{key}: {got[task].get(key, '<missing>')!r} != {want[task].get(key, '<missing>')!r}"
             for task in want for key in sorted(set(got[task]) | set(want[task]))
             if got[task].get(key, "<missing>") != want[task].get(key, "<missing>")]
    assert not diffs, "\n".join(diffs)
    assert got["add"]["changed"] and not got["again"]["changed"] and got["version"]["changed"]
    assert got["add"]["cmd"][0] == "W/venv/bin/pip3" and "Successfully installed" in got["add"]["stdout"]
    assert not got["check_there"]["changed"] and got["check_missing"]["changed"]
    assert got["absent"]["changed"] and not got["absent_again"]["changed"]
