"""The lab package universe for real: rpmbuild + rpmsign + createrepo_c output, the HTTP server, and dnf.

Every check runs the real tools (rpm, gpg, dnf, the server process) against the real cached tree;
the server under test listens on loopback with a port of its own, so the lab's server on the bridge
keeps serving other tests undisturbed.
"""

from __future__ import annotations

import configparser
import gzip
import os
import shutil
import socket
import subprocess
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostprep.lab import repo
from hostprep.lab.packages import postgresql, pythons, services
from hostprep.lab.packages.baseset import base_packages
from hostprep.lab.packages.catalog import catalog

NS = {"repo": "http://linux.duke.edu/metadata/repo", "common": "http://linux.duke.edu/metadata/common"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tree() -> Path:
    return repo.build_repo()


@pytest.fixture()
def served(tree: Path) -> Iterator[str]:
    """The repository served on 127.0.0.1 with a fresh port; stopped by its pid afterwards."""
    port = _free_port()
    repo.ensure_served("127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        repo.stop_served("127.0.0.1", port)


def _all_rpms(tree: Path) -> list[Path]:
    return sorted(tree.rglob("*.rpm"))


def _primary(repodir: Path) -> set[tuple[str, str, str, str]]:
    """(name, epoch, version, release) of every package in a repository's primary metadata."""
    repomd = ET.parse(repodir / "repodata/repomd.xml").getroot()
    href = next(d.find("repo:location", NS).get("href") for d in repomd.findall("repo:data", NS)
                if d.get("type") == "primary")
    root = ET.fromstring(gzip.decompress((repodir / href).read_bytes()))
    found = set()
    for pkg in root.findall("common:package", NS):
        v = pkg.find("common:version", NS)
        found.add((pkg.find("common:name", NS).text, v.get("epoch"), v.get("ver"), v.get("rel")))
    return found


def test_build_is_cached_and_second_run_is_a_hash_check(tree: Path) -> None:
    """Cached is shown by nothing being written again (every file's mtime and inode kept); the time is only a
    generous bound against a hang or a rebuild (minutes)."""
    files = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in tree.rglob("*") if p.is_file()}
    started = time.monotonic()
    again = repo.build_repo()
    elapsed = time.monotonic() - started
    assert again == tree == repo.REPO_CACHE / repo.recipe_hash()
    assert (tree / ".complete").read_text().strip() == repo.recipe_hash()
    assert {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in tree.rglob("*") if p.is_file()} == files
    assert elapsed < 60, f"cached build took {elapsed:.1f}s"


def test_every_rpm_signature_verifies_against_the_lab_key(tree: Path, tmp_path: Path) -> None:
    dbpath = tmp_path / "rpmdb"
    dbpath.mkdir()
    subprocess.run(["rpm", "--dbpath", str(dbpath), "--import", str(tree / "RPM-GPG-KEY-hostprep-lab")], check=True)
    rpms = _all_rpms(tree)
    assert len(rpms) > 40
    for chunk in range(0, len(rpms), 100):
        res = subprocess.run(["rpm", "--dbpath", str(dbpath), "-K", *map(str, rpms[chunk:chunk + 100])],
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr
        for line in res.stdout.splitlines():
            assert line.endswith("digests signatures OK"), line
    # a flipped payload byte must be caught, so the check above can fail
    tampered = tmp_path / "tampered.rpm"
    data = bytearray(rpms[0].read_bytes())
    data[-100] ^= 0xFF
    tampered.write_bytes(bytes(data))
    res = subprocess.run(["rpm", "--dbpath", str(dbpath), "-K", str(tampered)], capture_output=True, text=True)
    assert res.returncode != 0


def test_metadata_lists_every_package_and_version(tree: Path, tmp_path: Path) -> None:
    expected: dict[Path, set[tuple[str, str, str, str]]] = {}
    py_trees = pythons.stage_all(tmp_path / "pythons")
    for pkg in [*catalog(repo.LAB_REPO_URL), *pythons.python_packages(py_trees), *base_packages(),
                *postgresql.postgresql_packages(), *services.service_packages()]:
        for rel in pkg.releasevers:
            for where in pkg.repos:
                if where.startswith("docker/"):
                    repodir = tree / "linux/centos" / rel / "x86_64" / where.split("/")[1]
                else:
                    repodir = tree / "el" / rel / where / "x86_64"
                expected.setdefault(repodir, set()).add(
                    (pkg.name, str(pkg.epoch or 0), pkg.version, pkg.release))
    assert len(expected) == 3 * 5, sorted(expected)  # 3 releasevers x (stable, test, nightly, base, epel)
    for repodir, want in expected.items():
        assert _primary(repodir) == want, repodir
    base7 = {(n, v) for n, _e, v, _r in _primary(tree / "el/7/base/x86_64")}
    assert {("python", "2.7.18"), ("python3", "3.6.15"), ("bash", "4.2.46"), ("firewalld", "1.3.3")} <= base7
    assert ("postgresql-server", "15.20") in base7  # the guide's Dockerfile installs it on centos:7
    base9 = {n for n, _e, _v, _r in _primary(tree / "el/9/base/x86_64")}
    assert {"nginx", "haproxy", "memcached", "git", "java-17-openjdk"} <= base9  # the public-role corpus's
    assert ("python-pip", "19.2.3") in {(n, v) for n, _e, v, _r in _primary(tree / "el/7/epel/x86_64")}
    stable9 = _primary(tree / "linux/centos/9/x86_64/stable")
    assert {v for n, e, v, _ in stable9 if n == "docker-ce" and e == "3"} == {"24.0.7", "25.0.5", "26.1.4"}


def test_layout_repo_file_keys_and_pip_index(tree: Path) -> None:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read_string((tree / "linux/centos/docker-ce.repo").read_text())
    assert cfg.sections() == ["docker-ce-stable", "docker-ce-test", "docker-ce-nightly"]
    base = "http://10.231.0.1:8480/linux/centos"
    for channel, enabled in (("stable", "1"), ("test", "0"), ("nightly", "0")):
        section = cfg[f"docker-ce-{channel}"]
        assert section["baseurl"] == f"{base}/$releasever/$basearch/{channel}"
        assert (section["enabled"], section["gpgcheck"], section["gpgkey"]) == (enabled, "1", f"{base}/gpg")
    key = (tree / "linux/centos/gpg").read_text()
    assert key.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert (tree / "RPM-GPG-KEY-hostprep-lab").read_text() == key
    page = (tree / "pypi/simple/docker-compose/index.html").read_text()
    assert "docker_compose-2.26.1-" in page and "#sha256=" in page


def test_server_serves_the_layout_only_on_its_address_and_stops_by_pid(tree: Path) -> None:
    port = _free_port()
    repo.ensure_served("127.0.0.1", port)
    pidpath = repo.pidfile("127.0.0.1", port)
    try:
        pid = int(pidpath.read_text().split()[0])
        repo.ensure_served("127.0.0.1", port)  # idempotent: the same process keeps serving
        assert int(pidpath.read_text().split()[0]) == pid
        for rel in ("linux/centos/docker-ce.repo", "linux/centos/gpg", "RPM-GPG-KEY-hostprep-lab",
                    "linux/centos/9/x86_64/stable/repodata/repomd.xml", "el/7/epel/x86_64/repodata/repomd.xml",
                    "pypi/simple/docker-compose/index.html"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/{rel}", timeout=5) as resp:
                assert resp.read() == (tree / rel).read_bytes(), rel
        with pytest.raises(ConnectionRefusedError):  # bound to 127.0.0.1 only, not to all of loopback
            socket.create_connection(("127.0.0.2", port), timeout=2).close()
        ss = subprocess.run(["ss", "-Htlnp", f"sport = :{port}"], capture_output=True, text=True).stdout
        assert f"127.0.0.1:{port}" in ss and f"pid={pid}," in ss, ss
    finally:
        repo.stop_served("127.0.0.1", port)
    assert not pidpath.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def _dnf(root: Path, reposdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["dnf", "-y", "--installroot", str(root), "--releasever", "9", f"--setopt=reposdir={reposdir}",
         f"--setopt=cachedir={root.parent / 'dnf-cache'}", "--setopt=install_weak_deps=0", "--disablerepo=*",
         "--enablerepo=lab-docker-ce-stable", *args],
        capture_output=True, text=True, timeout=300,
    )


def test_dnf_installroot_installs_signed_docker_and_pins_versions(served: str, tmp_path: Path) -> None:
    reposdir = tmp_path / "repos"
    reposdir.mkdir()
    (reposdir / "lab.repo").write_text(
        "[lab-docker-ce-stable]\nname=lab docker-ce stable\n"
        f"baseurl={served}/linux/centos/$releasever/$basearch/stable\n"
        f"enabled=1\ngpgcheck=1\nrepo_gpgcheck=0\ngpgkey={served}/linux/centos/gpg\n"
    )
    root = tmp_path / "root"
    root.mkdir()
    res = _dnf(root, reposdir, "install", "docker-ce", "docker-ce-cli", "containerd.io")
    assert res.returncode == 0, res.stdout + res.stderr
    fingerprint = repo.lab_key_fingerprint()
    assert fingerprint in res.stdout + res.stderr  # the key dnf imported is the lab's
    for binary, needle in (("usr/sbin/dockerd", "Docker version"), ("usr/bin/docker", "Docker version"),
                           ("usr/bin/containerd", "containerd"), ("usr/bin/runc", "runc version")):
        out = subprocess.run([str(root / binary), "--version"], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and needle in out.stdout, (binary, out.stdout, out.stderr)
    assert (root / "usr/lib/systemd/system/docker.service").is_file()
    assert (root / "usr/lib/systemd/system/docker.socket").is_file()
    q = subprocess.run(["rpm", "--root", str(root), "-q", "--qf", "%{NAME} %{EPOCH}:%{VERSION}\\n", "docker-ce",
                        "docker-ce-cli", "containerd.io"], capture_output=True, text=True, check=True)
    assert q.stdout.splitlines() == ["docker-ce 3:26.1.4", "docker-ce-cli 1:26.1.4", "containerd.io (none):1.6.20"]
    sig = subprocess.run(["rpm", "--root", str(root), "-q", "--qf", "%{RSAHEADER:pgpsig}\\n", "docker-ce"],
                         capture_output=True, text=True, check=True).stdout
    assert fingerprint.replace(" ", "")[-16:].lower() in sig.lower(), sig
    def engine() -> str:
        return subprocess.run([str(root / "usr/sbin/dockerd"), "--version"], capture_output=True, text=True,
                              timeout=30).stdout

    assert engine().startswith("Docker version 26.1.5")  # docker-ce 26.1.4 carries Debian trixie's engine
    # pinning: downgrade to an older docker-ce, which carries another engine (bookworm's 20.10)
    res = _dnf(root, reposdir, "downgrade", "docker-ce-3:24.0.7-1.lab", "docker-ce-cli-1:24.0.7-1.lab")
    assert res.returncode == 0, res.stdout + res.stderr
    q = subprocess.run(["rpm", "--root", str(root), "-q", "--qf", "%{VERSION}\n", "docker-ce", "docker-ce-cli"],
                       capture_output=True, text=True, check=True)
    assert q.stdout.split() == ["24.0.7", "24.0.7"]
    assert engine().startswith("Docker version 20.10.24")
    cli = subprocess.run([str(root / "usr/bin/docker"), "--version"], capture_output=True, text=True, timeout=30)
    assert cli.stdout.startswith("Docker version 20.10.24"), cli.stdout
    shutil.rmtree(root, ignore_errors=True)
