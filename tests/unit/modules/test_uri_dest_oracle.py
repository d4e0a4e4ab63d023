"""uri with dest (issue 19): hostprep's registered results against ansible-playbook's, both on the local host,
from an HTTP server on 127.0.0.1 the test starts and stops: a download (mode set), the same again (Ansible asks
If-Modified-Since: 304, accepted or failing), into a directory (the URL's file name), a JSON answer to a file,
a 404; every registered key compared (the Date header and elapsed aside), then the files written."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from hostprep.modules.uri import dest_path
from tests.unit.modules.test_uri_oracle import serving

BIN = Path(sys.executable).parent


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    www = tmp_path / "www"
    www.mkdir()
    (www / "f.txt").write_text("served by the test\n")
    (www / "data.json").write_text('{"a": [1, 2]}')
    with serving(partial(Quiet, directory=str(www))) as base:
        yield base


BOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - {uri: {url: "@BASE@/f.txt", dest: "@W@/f.txt", mode: "0600"}, register: dest}
    - {uri: {url: "@BASE@/f.txt", dest: "@W@/f.txt", mode: "0600", status_code: [200, 304]}, register: again}
    - {uri: {url: "@BASE@/f.txt", dest: "@W@/f.txt"}, register: not_accepted, ignore_errors: true}
    - {file: {path: "@W@/d", state: directory}}
    - {uri: {url: "@BASE@/f.txt", dest: "@W@/d"}, register: into_dir}
    - {uri: {url: "@BASE@/data.json", dest: "@W@/data.json"}, register: json_dest}
    - {uri: {url: "@BASE@/nothing", dest: "@W@/nothing"}, register: missing, ignore_errors: true}
    - copy:
        dest: "@W@/out.json"
        content: "{{ {'dest': dest, 'again': again, 'not_accepted': not_accepted, 'into_dir': into_dir,
                      'json_dest': json_dest, 'missing': missing} | to_json }}"
"""


def _run(tool: str, work: Path, base: str) -> dict:
    (work / "site.yml").write_text(textwrap.dedent(BOOK).replace("@BASE@", base).replace("@W@", str(work)))
    (work / "inv.ini").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(work / ".a"),
           "ANSIBLE_LOCAL_TEMP": str(work / ".t"), "ANSIBLE_RETRY_FILES_ENABLED": "0", "no_proxy": "*"}
    cmd = [str(BIN / tool), *(["apply"] if tool == "hostprep" else []), "-i", "inv.ini", "site.yml"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    results = json.loads((work / "out.json").read_text().replace(str(work), "W"))
    for res in results.values():
        for key in ("date", "elapsed", "invocation", "exception"):
            res.pop(key, None)
    return results


def test_uri_dest_results_as_ansible(tmp_path: Path, server: str) -> None:
    seen = {}
    for tool in ("ansible-playbook", "hostprep"):
        work = tmp_path / tool
        work.mkdir()
        seen[tool] = _run(tool, work, server)
        assert (work / "f.txt").read_text() == "served by the test\n"
        assert stat.S_IMODE((work / "f.txt").stat().st_mode) == 0o600
        assert (work / "d" / "f.txt").read_text() == "served by the test\n"
        assert json.loads((work / "data.json").read_text()) == {"a": [1, 2]}
        assert not (work / "nothing").exists()
    got, want = seen["hostprep"], seen["ansible-playbook"]
    diffs = [f"{task}.{key}: {got[task].get(key, '<missing>')!r} != {want[task].get(key, '<missing>')!r}"
             for task in want for key in sorted(set(got[task]) | set(want[task]))
             if got[task].get(key, "<missing>") != want[task].get(key, "<missing>")]
    assert not diffs, "\n".join(diffs)
    assert got["dest"]["changed"] and got["dest"]["path"] == "W/f.txt" and got["again"]["status"] == 304
    assert got["not_accepted"]["failed"] and got["into_dir"]["path"] == "W/d/f.txt"
    assert got["json_dest"]["json"] == {"a": [1, 2]} and got["missing"]["status"] == 404


@pytest.mark.parametrize(("dest", "is_dir", "headers", "url", "want"), [
    ("/t/f", False, {}, "http://h/x/y.txt", "/t/f"),
    ("/t", True, {}, "http://h/x/y%20z.txt?q=1", "/t/y z.txt"),
    ("/t", True, {"content_disposition": 'attachment; filename="../a.tar.gz"'}, "http://h/x", "/t/a.tar.gz"),
    ("/t", True, {}, "http://h/", "/t/index.html"),
])
def test_dest_path_as_ansible_names_it(dest: str, is_dir: bool, headers: dict, url: str, want: str) -> None:
    assert dest_path(dest, is_dir, headers, url) == want
