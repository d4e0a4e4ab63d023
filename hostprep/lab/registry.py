"""The lab's container registry: Debian's docker-registry (CNCF distribution) on the lab bridge, with TLS.

`hostprep lab registry up` serves it on 10.231.0.1:5000 (the bridge address only: lab hosts and this machine
reach it, nothing else), with a certificate for that address signed by a lab CA made once
(`/var/lib/hostprep/lab/registry/ca.crt`), htpasswd auth (user `lab`, a random password made once, in
`password`, mode 0600) and its data under `/var/lib/hostprep/lab/registry/data` (kept across down/up;
`down --purge` removes it). A client trusts it with the CA in Docker's convention,
`certs.d/10.231.0.1:5000/ca.crt` (hostprep-runtime reads `$HOSTPREP_RUNTIME_ROOT/certs.d`; `trust_on()` puts the
CA there under a runtime root; `hostprep lab up --registry` starts the registry and, with install_on(), makes
each host trust it and log in without flags). The server runs detached; its pid (checked against its command
line before any signal) is in /run/hostprep-lab/registry.pid.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

from hostprep.errors import HostprepError
from hostprep.lab import paths

PORT = 5000
ADDRESS = f"{paths.BRIDGE_ADDRESS}:{PORT}"
USER = "lab"
DIR = paths.STATE / "registry"
PIDFILE = paths.RUN / "registry.pid"
BINARY = "/usr/bin/docker-registry"


def _run(*cmd: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise HostprepError(f"{' '.join(cmd[:3])} failed: {proc.stderr[-1000:]}")


def _pki() -> None:
    """The lab CA and a server certificate for the bridge address (made once)."""
    ca_key, ca_crt, key, crt = DIR / "ca.key", DIR / "ca.crt", DIR / "server.key", DIR / "server.crt"
    if crt.exists() and ca_crt.exists():
        return
    DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_crt),
         "-days", "3650", "-subj", "/CN=hostprep lab registry CA")
    csr, ext = DIR / "server.csr", DIR / "server.ext"
    _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj",
         f"/CN={paths.BRIDGE_ADDRESS}")
    ext.write_text(f"subjectAltName=IP:{paths.BRIDGE_ADDRESS}\n")
    _run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
         "-out", str(crt), "-days", "3650", "-extfile", str(ext))
    for f in (ca_key, key):
        os.chmod(f, 0o600)


def password() -> str:
    """The registry password for user `lab` (made once, kept 0600)."""
    path = DIR / "password"
    if not path.exists():
        DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(18) + "\n")
    return path.read_text().strip()


def _config() -> Path:
    htpasswd = DIR / "htpasswd"
    proc = subprocess.run(["htpasswd", "-Bbn", USER, password()], capture_output=True, text=True)
    if proc.returncode != 0:
        raise HostprepError("htpasswd (apache2-utils) failed: " + proc.stderr[-500:])
    htpasswd.write_text(proc.stdout)
    os.chmod(htpasswd, 0o600)
    config = DIR / "config.yml"
    config.write_text("\n".join([
        "version: 0.1", "log:", "  level: warn", "storage:", "  filesystem:", f"    rootdirectory: {DIR / 'data'}",
        "  delete:", "    enabled: true", "http:", f"  addr: {ADDRESS}", "  tls:",
        f"    certificate: {DIR / 'server.crt'}", f"    key: {DIR / 'server.key'}", "auth:", "  htpasswd:",
        "    realm: hostprep-lab", f"    path: {htpasswd}", ""]))
    return config


def _pid() -> int | None:
    try:
        pid = int(PIDFILE.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return None
    return pid if cmdline.startswith(BINARY.encode()) and str(DIR).encode() in cmdline else None


def _listening() -> bool:
    try:
        with socket.create_connection((paths.BRIDGE_ADDRESS, PORT), timeout=0.3):
            return True
    except OSError:
        return False


def up() -> dict[str, str]:
    """Start the registry unless it runs; returns its address, user, CA path and password file."""
    if not os.path.exists(BINARY):
        raise HostprepError("the lab registry needs Debian's docker-registry package (and apache2-utils)")
    from hostprep.lab import network

    network.ensure_bridge()
    paths.RUN.mkdir(parents=True, exist_ok=True)
    with open(paths.RUN / "registry.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _pid() is None:
            _pki()
            config = _config()
            log = open(DIR / "registry.log", "ab")  # noqa: SIM115 - handed to the detached server
            proc = subprocess.Popen([BINARY, "serve", str(config)], stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
            PIDFILE.write_text(f"{proc.pid}\n")
            deadline = time.monotonic() + 30
            while not _listening():
                if proc.poll() is not None:
                    raise HostprepError(f"docker-registry exited ({proc.returncode}); see {DIR / 'registry.log'}")
                if time.monotonic() > deadline:
                    raise HostprepError("docker-registry did not listen within 30 s")
                time.sleep(0.05)
    return {"address": ADDRESS, "user": USER, "ca": str(DIR / "ca.crt"), "password_file": str(DIR / "password")}


def down(purge: bool = False) -> None:
    """Stop the registry (by its recorded pid); with purge, remove its data, keys and password too."""
    pid = _pid()
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
    PIDFILE.unlink(missing_ok=True)
    if purge and DIR.exists():
        import shutil

        shutil.rmtree(DIR)


CA_NAME = "hostprep-lab-registry.crt"


def install_on(address: str, timeout: float = 300) -> None:
    """Make the lab host at `address` use the lab registry without flags (`hostprep lab up --registry`).

    - the lab CA in `certs.d/10.231.0.1:5000/ca.crt` under /etc/docker and /etc/containers (Docker's, podman's
      and skopeo's convention; hostprep-runtime reads both besides its state root's), and in the host's system
      store (update-ca-trust where there is one; on the lab's Debian userland the CA goes to
      /usr/local/share/ca-certificates and is added to /etc/ssl/certs/ca-certificates.crt), so curl and
      Python's ssl verify the registry too;
    - the lab user's credentials, as `login` stores them, for hostprep-runtime
      (/var/lib/hostprep-runtime/auth.json) and Docker (/root/.docker/config.json), each 0600 and only where the
      host has none yet (a login made on the host is left alone).
    """
    import base64
    import json

    ca = (DIR / "ca.crt").read_bytes()
    creds = json.dumps({"auths": {ADDRESS: {"auth": base64.b64encode(f"{USER}:{password()}".encode()).decode()}}})
    certs = [f"/etc/docker/certs.d/{ADDRESS}", f"/etc/containers/certs.d/{ADDRESS}"]
    script = "\n".join([
        "set -e", "umask 077", "creds=$(cat)",
        *(f"[ -e {path} ] || {{ mkdir -p {os.path.dirname(path)} && printf '%s\\n' \"$creds\" > {path}; }}"
          for path in ("/var/lib/hostprep-runtime/auth.json", "/root/.docker/config.json")),
        "umask 022",
        *(f"mkdir -p {d}" for d in certs),
        f"printf '%s\\n' {_shell_quote(ca.decode().strip())} > {certs[0]}/ca.crt",
        f"cp {certs[0]}/ca.crt {certs[1]}/ca.crt",
        "if command -v update-ca-trust >/dev/null 2>&1; then",
        f"  mkdir -p /etc/pki/ca-trust/source/anchors && "
        f"cp {certs[0]}/ca.crt /etc/pki/ca-trust/source/anchors/{CA_NAME}",
        "  update-ca-trust extract",
        # Debian's layout (the lab's userland): the file where update-ca-certificates keeps it on its next run,
        # and added to the bundle now (the whole rehash took minutes on a loaded machine)
        "elif [ -f /etc/ssl/certs/ca-certificates.crt ]; then",
        f"  mkdir -p /usr/local/share/ca-certificates && "
        f"cp {certs[0]}/ca.crt /usr/local/share/ca-certificates/{CA_NAME}",
        f"  grep -qF \"$(sed -n 2p {certs[0]}/ca.crt)\" /etc/ssl/certs/ca-certificates.crt || "
        f"cat {certs[0]}/ca.crt >> /etc/ssl/certs/ca-certificates.crt",
        "fi", ""])
    try:
        proc = subprocess.run(
            ["ssh", "-i", str(paths.KEY), "-o", f"UserKnownHostsFile={paths.KNOWN_HOSTS}", "-o", "BatchMode=yes",
             "-o", "StrictHostKeyChecking=yes", f"root@{address}", script],
            input=creds + "\n", capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise HostprepError(f"installing the lab registry's CA on {address} took over {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise HostprepError(f"installing the lab registry's CA on {address} failed: {proc.stderr[-1000:]}")


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def trust_on(runtime_root: Path) -> Path:
    """Put the lab CA where hostprep-runtime under `runtime_root` looks for this registry's (certs.d)."""
    target = runtime_root / "certs.d" / ADDRESS
    target.mkdir(parents=True, exist_ok=True)
    (target / "ca.crt").write_bytes((DIR / "ca.crt").read_bytes())
    return target / "ca.crt"
