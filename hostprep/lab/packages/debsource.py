"""Debian packages as the source of the lab RPMs' files (bookworm via apt, trixie via its signed index).

Every .deb is checked: bookworm ones by apt itself, trixie ones against the SHA256 in a Packages
index whose InRelease signature gpgv verifies with Debian's archive keyring.
"""

from __future__ import annotations

import hashlib
import lzma
import subprocess
import urllib.request
from pathlib import Path

from hostprep.errors import HostprepError

MIRROR = "http://deb.debian.org/debian"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise HostprepError(f"{' '.join(cmd[:3])} failed: {proc.stderr.strip()[-1500:]}")
    return proc.stdout


def download_bookworm(names: list[str], dest: Path) -> dict[str, Path]:
    """`apt-get download` each package (apt verifies them); returns name -> .deb path."""
    dest.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    missing = []
    for name in names:
        found = sorted(dest.glob(f"{name}_*.deb"))
        if found:
            out[name] = found[-1]
        else:
            missing.append(name)
    if missing:
        subprocess.run(["chown", "_apt", str(dest)], capture_output=True)
        proc = subprocess.run(["apt-get", "download", *missing], cwd=dest, capture_output=True, text=True)
        if proc.returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
            _run(["apt-get", "download", *missing], cwd=dest)
        for name in missing:
            out[name] = sorted(dest.glob(f"{name}_*.deb"))[-1]
    return out


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - Debian mirror, verified below
        return resp.read()


def download_suite(suite: str, names: list[str], dest: Path) -> dict[str, Path]:
    """Packages from another Debian suite (e.g. trixie), verified through its signed index."""
    dest.mkdir(parents=True, exist_ok=True)
    have = {n: sorted(dest.glob(f"{n}_*.deb")) for n in names}
    if all(have.values()):
        return {n: v[-1] for n, v in have.items()}
    inrelease = dest / f"{suite}.InRelease"
    inrelease.write_bytes(_fetch(f"{MIRROR}/dists/{suite}/InRelease"))
    verified = subprocess.run(["gpgv", "--keyring", KEYRING, "--output", "-", str(inrelease)], capture_output=True)
    if verified.returncode != 0:
        raise HostprepError(f"{suite} InRelease signature does not verify: {verified.stderr.decode()[-500:]}")
    release = verified.stdout.decode()
    index_name = "main/binary-amd64/Packages.xz"
    want = None
    in_sha = False
    for line in release.splitlines():
        if line.startswith("SHA256:"):
            in_sha = True
            continue
        if in_sha and line.startswith(" "):
            digest, _size, name = line.split()
            if name == index_name:
                want = digest
        elif in_sha:
            in_sha = False
    if want is None:
        raise HostprepError(f"{suite}: {index_name} not listed in InRelease")
    packed = _fetch(f"{MIRROR}/dists/{suite}/{index_name}")
    if hashlib.sha256(packed).hexdigest() != want:
        raise HostprepError(f"{suite}: Packages index checksum mismatch")
    index = lzma.decompress(packed).decode()
    records = {}
    for stanza in index.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line[0].isspace())
        if fields.get("Package") in names:
            records[fields["Package"]] = fields
    out = {}
    for name in names:
        rec = records.get(name)
        if rec is None:
            raise HostprepError(f"{suite}: no package {name}")
        data = _fetch(f"{MIRROR}/{rec['Filename']}")
        if hashlib.sha256(data).hexdigest() != rec["SHA256"]:
            raise HostprepError(f"{suite}: {name} checksum mismatch")
        path = dest / Path(rec["Filename"]).name
        path.write_bytes(data)
        out[name] = path
    return out


def extract(deb: Path, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    _run(["dpkg-deb", "-x", str(deb), str(into)])
    return into
