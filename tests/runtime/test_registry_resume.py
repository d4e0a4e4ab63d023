"""A blob download cut short is resumed with a Range request and hashed on, not started over: a proxy in front of
docker-registry drops the connection partway through the first GET of the big layer; under the control node's
Python, 3.9 and 3.6 (the `rt` fixture)."""

from __future__ import annotations

import http.server
import os
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.runtime.registry_support import Registry

CUT_AFTER = 200 * 1024


class CuttingProxy:
    """Forwards GET/HEAD to the registry; the first full GET of a blob larger than CUT_AFTER is cut there."""

    def __init__(self, upstream: str):
        self.seen: list[tuple[str, str | None]] = []
        self.cut = False
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self, body: bool) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "range")}
                proxy.seen.append((self.path, self.headers.get("Range")))
                req = urllib.request.Request(f"http://{upstream}{self.path}", headers=headers, method=self.command)
                try:
                    resp = urllib.request.urlopen(req, timeout=30)
                except urllib.error.HTTPError as exc:
                    resp = exc
                data = resp.read() if body else b""
                self.send_response(resp.status if hasattr(resp, "status") else resp.code)
                for key, value in resp.headers.items():
                    if key.lower() not in ("connection", "transfer-encoding"):
                        self.send_header(key, value)
                self.send_header("Connection", "close")
                self.end_headers()
                if body and "/blobs/" in self.path and len(data) > CUT_AFTER and not proxy.cut and \
                        not self.headers.get("Range"):
                    proxy.cut = True
                    self.wfile.write(data[:CUT_AFTER])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                self._forward(True)

            def do_HEAD(self) -> None:  # noqa: N802
                self._forward(False)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def plain_registry(tmp_path_factory: pytest.TempPathFactory):
    reg = Registry(tmp_path_factory.mktemp("resume-registry"), tls=False, auth=False)
    yield reg
    reg.stop()


def test_cut_download_is_resumed_with_range(rt, plain_registry) -> None:
    ctx = Path(rt.base) / "resume-ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "big").write_bytes(os.urandom(1024 * 1024))
    (ctx / "Dockerfile").write_text("FROM bb\nCOPY big /big\n")
    assert rt("build", "-t", "resume-img", str(ctx)).returncode == 0
    res = rt("push", "--plain-http", "resume-img", f"{plain_registry.host}/hprt/resume:1")
    assert res.returncode == 0, res.stderr
    proxy = CuttingProxy(plain_registry.host)
    try:
        fresh = Path(rt.base) / f"resume-state-{os.getpid()}"
        env = dict(rt.env, HOSTPREP_RUNTIME_ROOT=str(fresh))
        ref = f"{proxy.host}/hprt/resume:1"
        res = subprocess.run([rt.python, "-m", "hostprep.runtime", "pull", "--plain-http", ref],
                             capture_output=True, text=True, env=env, timeout=120)
        assert res.returncode == 0, res.stderr
        assert proxy.cut
        ranges = [r for _, r in proxy.seen if r]
        assert ranges == [f"bytes={CUT_AFTER}-"], proxy.seen  # resumed where it was cut, once
        res = subprocess.run([rt.python, "-m", "hostprep.runtime", "run", "--rm", ref, "wc", "-c", "/big"],
                             capture_output=True, text=True, env=env, timeout=60)
        assert res.stdout.split()[0] == str(1024 * 1024), res.stderr
    finally:
        proxy.stop()
