"""uri (curl on the host) against Ansible's uri, on a local HTTP server on 127.0.0.1 made by the test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

BIN = Path(sys.executable).parent


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _reply(self, status: int, body: bytes, ctype: str = "application/json", extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/redirect":
            self._reply(302, b"", "text/plain", {"Location": "/json"})
        elif self.path == "/json":
            self._reply(200, b'{"ok": true, "n": 3}')
        elif self.path == "/auth":
            ok = self.headers.get("Authorization") == "Basic dTpwIHc="  # u:p w
            self._reply(200 if ok else 401, b"text body", "text/plain")
        else:
            self._reply(404, b"missing", "text/plain")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        data = self.rfile.read(length)
        self._reply(201, json.dumps({"got": json.loads(data), "ctype": self.headers.get("Content-Type")}).encode())


@contextmanager
def serving(handler: Any) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 (a free port) in a thread, for as long as the block runs: its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server() -> Iterator[str]:
    with serving(Handler) as base:
        yield base


BOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - {uri: {url: "@BASE@/json"}, register: plain}
    - {uri: {url: "@BASE@/redirect", return_content: true}, register: redirected}
    - uri: {url: "@BASE@/post", method: POST, body_format: json, body: {a: [1, 2]}, status_code: 201}
      register: posted
    - {uri: {url: "@BASE@/auth", user: u, password: p w, force_basic_auth: true, return_content: true},
       register: auth}
    - {uri: {url: "@BASE@/nothing"}, register: missing, ignore_errors: true}
    - copy:
        dest: "@OUT@"
        content: >-
          {{ {'plain': [plain.status, plain.json, plain.content is defined, plain.content_type],
              'redirected': [redirected.status, redirected.redirected, redirected.content, redirected.json],
              'posted': [posted.status, posted.json],
              'auth': [auth.status, auth.content],
              'missing': [missing.status, missing.failed, missing.msg[:28]]} | to_json(sort_keys=True) }}
"""


def test_uri_returns_what_ansible_returns(tmp_path: Path, server: str) -> None:
    seen = {}
    for tool in ("ansible-playbook", "hostprep"):
        work = tmp_path / tool
        work.mkdir()
        out = work / "out.json"
        (work / "site.yml").write_text(textwrap.dedent(BOOK).replace("@BASE@", server).replace("@OUT@", str(out)))
        (work / "inv.ini").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable}\n")
        env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(work / ".a"),
               "ANSIBLE_LOCAL_TEMP": str(work / ".t"), "ANSIBLE_RETRY_FILES_ENABLED": "0", "no_proxy": "*"}
        cmd = [str(BIN / tool), *(["apply"] if tool == "hostprep" else []), "-i", "inv.ini", "site.yml"]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work, env=env, timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        seen[tool] = json.loads(out.read_text())
    assert seen["hostprep"] == seen["ansible-playbook"]
    assert seen["hostprep"]["missing"][:2] == [404, True]
