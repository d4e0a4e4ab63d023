"""A real registry for the tests: Debian's docker-registry (CNCF distribution 2.8) on loopback with TLS from a
CA made here (openssl) and htpasswd (bcrypt, apache2-utils) auth; stopped by its pid."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
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


class Registry:
    def __init__(self, base: Path, tls: bool = True, auth: bool = True):
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
        if auth:
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
