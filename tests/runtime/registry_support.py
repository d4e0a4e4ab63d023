"""A real registry for the tests: Debian's docker-registry (CNCF distribution 2.8) on loopback with TLS from a
CA made here (openssl) and htpasswd (bcrypt, apache2-utils) auth; stopped by its pid."""

from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REGISTRY = "/usr/bin/docker-registry"
USER, PASSWORD = "hprt-user", "s3cret-Pa55"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_ca(base: Path) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it."""
    base.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = base / "ca.key", base / "ca.crt"
    key, csr, crt, ext = base / "srv.key", base / "srv.csr", base / "srv.crt", base / "ext.cnf"
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_crt),
        "-days", "2", "-subj", "/CN=hostprep test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj",
        "/CN=127.0.0.1")
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(crt), "-days", "2", "-extfile", str(ext))
    return {"ca": ca_crt, "key": key, "crt": crt}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """A bearer token service as distribution's token auth expects one: Basic-authenticated GET /token giving a
    JWT signed (RS256, by openssl) with a certificate the registry trusts (x5c), granting what was asked."""

    SERVICE, ISSUER = "hprt-registry", "hprt-token-issuer"

    def __init__(self, base: Path):
        base.mkdir(parents=True, exist_ok=True)
        self.key, self.crt = base / "token.key", base / "token.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key),
                        "-out", str(self.crt), "-days", "2", "-subj", "/CN=hprt token signer"], check=True,
                       capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", str(self.crt), "-outform", "DER"], check=True,
                             capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                server.requests.append(self.path)
                expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps({"token": server.token(query.get("scope", []))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def token(self, scopes: list[str]) -> str:
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": self.ISSUER, "sub": USER, "aud": self.SERVICE, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": os.urandom(8).hex(), "access": access}
        signing = _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)], input=signing.encode(),
                                   check=True, capture_output=True).stdout
        return signing + "." + _b64url(signature)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Registry:
    def __init__(self, base: Path, tls: bool = True, auth: bool = True, token: TokenServer | None = None):
        if not os.path.exists(REGISTRY) or not shutil.which("htpasswd"):
            raise RuntimeError("the registry tests need docker-registry and apache2-utils (ci/apt/runtime.txt)")
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        lines = ["version: 0.1", "log:", "  level: warn", "storage:", "  filesystem:",
                 f"    rootdirectory: {base / 'data'}", "  delete:", "    enabled: true", "http:",
                 f"  addr: 127.0.0.1:{self.port}"]
        self.certs = None
        if tls:
            self.certs = make_ca(base / "pki")
            lines += ["  tls:", f"    certificate: {self.certs['crt']}", f"    key: {self.certs['key']}"]
        if token is not None:
            lines += ["auth:", "  token:", f"    realm: {token.realm}", f"    service: {token.SERVICE}",
                      f"    issuer: {token.ISSUER}", f"    rootcertbundle: {token.crt}"]
        elif auth:
            htpasswd = base / "htpasswd"
            res = subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], capture_output=True, text=True, check=True)
            htpasswd.write_text(res.stdout)
            lines += ["auth:", "  htpasswd:", "    realm: hprt-test", f"    path: {htpasswd}"]
        config = base / "config.yml"
        config.write_text("\n".join(lines) + "\n")
        self.log = open(base / "registry.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([REGISTRY, "serve", str(config)], stdout=self.log, stderr=subprocess.STDOUT)
        self._wait(tls)

    def _wait(self, tls: bool) -> None:
        url = ("https://" if tls else "http://") + self.host + "/v2/"
        context = ssl.create_default_context(cafile=str(self.certs["ca"])) if tls else None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("docker-registry exited: " + (self.base / "registry.log").read_text())
            try:
                urllib.request.urlopen(url, context=context, timeout=2)
                return
            except urllib.error.HTTPError:
                return  # 401: up, and asking for credentials
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("docker-registry did not answer within 30 s")

    def cert_dir(self) -> Path:
        """A certs.d-style directory for podman/skopeo --cert-dir (its ca.crt)."""
        d = self.base / "certs"
        d.mkdir(exist_ok=True)
        shutil.copy(self.certs["ca"], d / "ca.crt")
        return d

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
