"""The lab's package server: a signed RPM repository tree in Docker's and EL's layouts, served over HTTP.

`build_repo()` makes (or finds in /var/cache/hostprep/repo, keyed by a hash of this recipe) the
tree; `ensure_served()` runs a detached HTTP server on the lab bridge address only, with a pidfile,
and `stop_served()` stops it by that pid. Usage: python -m hostprep.lab.repo build|serve|stop|fingerprint
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hostprep.errors import HostprepError
from hostprep.lab import paths
from hostprep.lab.packages import build as rpmtools
from hostprep.lab.packages import postgresql, pythons, services
from hostprep.lab.packages.baseset import base_packages
from hostprep.lab.packages.catalog import FIREWALLD_DEBS, catalog
from hostprep.lab.packages.debsource import download_bookworm, download_suite, extract
from hostprep.lab.packages.pypi import build_script_wheel, write_simple_index

LAB_REPO_URL = paths.REPO_URL
REPO_CACHE = paths.CACHE / "repo"
GNUPGHOME = paths.CACHE / "gpg"
DEBS = paths.CACHE / "debs"
KEY_NAME = "hostprep lab signing key"
PIDFILE = paths.RUN / "repo-server.pid"
BOOKWORM_DEBS = ["docker.io", "containerd", "runc", "tini", "cron", *FIREWALLD_DEBS, *postgresql.DEBS, *services.DEBS]
TRIXIE_DEBS = ["docker-compose", "docker-buildx"]
# trixie's engine and CLI for the newer docker-ce builds (catalog.TRIXIE_ENGINE_FROM), keyed trixie-<name>
TRIXIE_ENGINE_DEBS = ["docker.io", "docker-cli"]
RELEASEVERS = ("7", "8", "9")


def _debian_versions() -> str:
    """The Debian versions the build takes files from, so a Debian update makes a new cache entry.

    Bookworm: apt's candidate versions (a local lookup, fast). Trixie: the .debs already fetched
    (its index is only read when they are missing, to keep the second run a pure hash check).
    """
    proc = subprocess.run(["apt-cache", "policy", *BOOKWORM_DEBS], capture_output=True, text=True)
    lines = [line.strip() for line in proc.stdout.splitlines()
             if not line.startswith(" ") or line.strip().startswith("Candidate:")]
    trixie = sorted(p.name for p in (DEBS / "trixie").glob("*.deb"))
    return "\n".join(lines + trixie)


def recipe_hash() -> str:
    """Hash of everything the tree is made from: this module, the package code, the Debian versions."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for f in [Path(__file__), *sorted((here / "packages").glob("*.py"))]:
        digest.update(f.read_bytes())
    digest.update(_debian_versions().encode())
    digest.update(pythons.fingerprint().encode())
    return digest.hexdigest()[:16]


def repo_dir() -> Path:
    return REPO_CACHE / recipe_hash()


# -- signing key ------------------------------------------------------------------------------
def ensure_key() -> tuple[str, str]:
    """The lab signing key (made once): (ASCII-armored public key, fingerprint)."""
    GNUPGHOME.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(GNUPGHOME, 0o700)
    env = dict(os.environ, GNUPGHOME=str(GNUPGHOME))
    listed = subprocess.run(["gpg", "--batch", "--with-colons", "--list-keys", KEY_NAME], capture_output=True,
                            text=True, env=env)
    if listed.returncode != 0:
        subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", KEY_NAME, "rsa3072", "sign",
                        "never"], check=True, capture_output=True, env=env)
        listed = subprocess.run(["gpg", "--batch", "--with-colons", "--list-keys", KEY_NAME], capture_output=True,
                                text=True, env=env, check=True)
    fpr = next(line.split(":")[9] for line in listed.stdout.splitlines() if line.startswith("fpr:"))
    armored = subprocess.run(["gpg", "--batch", "--armor", "--export", KEY_NAME], capture_output=True, text=True,
                             env=env, check=True).stdout
    return armored, fpr


def lab_key_fingerprint() -> str:
    """The lab key's fingerprint, in the spaced form Docker publishes its own in."""
    fpr = ensure_key()[1]
    return " ".join(fpr[i:i + 4] for i in range(0, len(fpr), 4))


# -- building ---------------------------------------------------------------------------------
def _docker_repo_file() -> str:
    url = f"{LAB_REPO_URL}/linux/centos"
    sections = []
    for channel, enabled in (("stable", 1), ("test", 0), ("nightly", 0)):
        sections.append(
            f"[docker-ce-{channel}]\nname=Docker CE {channel.capitalize()} - $basearch\n"
            f"baseurl={url}/$releasever/$basearch/{channel}\nenabled={enabled}\ngpgcheck=1\ngpgkey={url}/gpg\n"
        )
    return "\n".join(sections)


def _fetch_debs() -> dict[str, Path]:
    """The Debian packages the RPMs take files from (downloaded once; later a directory lookup).

    Fetched before the recipe hash is taken, because the hash names the trixie files: a first build
    then publishes under the hash every later run computes.
    """
    debs = download_bookworm(BOOKWORM_DEBS, DEBS / "bookworm")
    for name, path in download_suite("trixie", TRIXIE_DEBS + TRIXIE_ENGINE_DEBS, DEBS / "trixie").items():
        debs[f"trixie-{name}" if name in TRIXIE_ENGINE_DEBS else name] = path
    return debs


def build_repo(rebuild: bool = False) -> Path:
    """Build the whole repository tree (cached by recipe hash) and return its directory."""
    debs = _fetch_debs()
    target = repo_dir()
    if (target / ".complete").exists() and not rebuild:
        return target
    REPO_CACHE.mkdir(parents=True, exist_ok=True)
    with open(REPO_CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time; the others then find its tree
        if (target / ".complete").exists() and not rebuild:
            return target
        return _build_locked(target, debs)


def _build_locked(target: Path, debs: dict[str, Path]) -> Path:
    armored, _fpr = ensure_key()
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=REPO_CACHE))
    try:
        trees = {name: extract(path, work / "debs" / name) for name, path in debs.items()}
        py_trees = pythons.stage_all(work / "pythons")
        trees.update(py_trees)
        out = work / "rpms"
        out.mkdir()
        def build_one(pkg):
            tree = work / "trees" / f"{pkg.name}-{pkg.version}-{pkg.release}"
            files = rpmtools.make_tree(pkg, tree, trees, armored)
            return pkg, rpmtools.rpmbuild(pkg, tree, files, work, out)

        everything = [*catalog(LAB_REPO_URL), *pythons.python_packages(py_trees), *base_packages(),
                      *postgresql.postgresql_packages(), *services.service_packages()]
        distinct = list({pkg.nevra: pkg for pkg in everything}.values())  # one build per NEVRA (several repos)
        # rpmbuild is mostly process start-up and compression: run a few at once
        with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
            by_nevra = {pkg.nevra: rpm for pkg, rpm in pool.map(build_one, distinct)}
        built: list[tuple[object, Path]] = [(pkg, by_nevra[pkg.nevra]) for pkg in everything]
        rpmtools.sign(list(by_nevra.values()), GNUPGHOME, KEY_NAME)
        tree_root = work / "tree"
        for pkg, rpm in built:
            for rel in pkg.releasevers:  # type: ignore[attr-defined]
                for repo in pkg.repos:  # type: ignore[attr-defined]
                    if repo.startswith("docker/"):
                        dest = tree_root / "linux/centos" / rel / "x86_64" / repo.split("/")[1] / "Packages"
                    else:
                        dest = tree_root / "el" / rel / repo / "x86_64" / "Packages"
                    dest.mkdir(parents=True, exist_ok=True)
                    os.link(rpm, dest / rpm.name)
        for rel in RELEASEVERS:
            for channel in ("stable", "test", "nightly"):
                (tree_root / "linux/centos" / rel / "x86_64" / channel / "Packages").mkdir(parents=True, exist_ok=True)
            for repo in ("base", "epel"):
                (tree_root / "el" / rel / repo / "x86_64" / "Packages").mkdir(parents=True, exist_ok=True)
        for repodir in [*tree_root.glob("linux/centos/*/x86_64/*"), *tree_root.glob("el/*/*/x86_64")]:
            proc = subprocess.run(["createrepo_c", "--quiet", "--general-compress-type=gz", str(repodir)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise HostprepError(f"createrepo_c {repodir} failed: {proc.stderr}")
        (tree_root / "linux/centos/docker-ce.repo").write_text(_docker_repo_file())
        (tree_root / "linux/centos/gpg").write_text(armored)
        (tree_root / "RPM-GPG-KEY-hostprep-lab").write_text(armored)
        compose = (trees["docker-compose"] / "usr/libexec/docker/cli-plugins/docker-compose").read_bytes()
        wheel = build_script_wheel(tree_root / "pypi/packages", "docker-compose", "2.26.1",
                                   {"docker-compose": compose}, "Docker Compose v2 (hostprep lab build)")
        write_simple_index(tree_root / "pypi", {"docker-compose": [wheel]})
        if target.exists():
            shutil.rmtree(target)
        tree_root.rename(target)
        (target / ".complete").write_text(recipe_hash() + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _prune(keep=target)
    return target


def _prune(keep: Path, newest: int = 3) -> None:
    """Drop old trees, keeping the newest few and any a live server serves.

    A process started before a code change still computes the old hash, so trees are kept for a
    while rather than swept as soon as a newer one exists.
    """
    in_use = _served_directories() | {keep}
    trees = sorted((d for d in REPO_CACHE.iterdir() if d.is_dir() and not d.name.startswith(".")),
                   key=lambda d: d.stat().st_mtime, reverse=True)
    for old in trees[newest:]:
        if old not in in_use:
            shutil.rmtree(old, ignore_errors=True)


def _served_directories() -> set[Path]:
    """Trees a live server still serves (an old tree is kept until its server is restarted)."""
    dirs = set()
    for pidpath in paths.RUN.glob("repo-server*.pid") if paths.RUN.exists() else []:
        recorded = pidpath.read_text().split()
        if len(recorded) > 1 and _pid(pidpath) is not None:
            dirs.add(Path(recorded[1]))
    return dirs


# -- serving ----------------------------------------------------------------------------------
def pidfile(address: str = paths.BRIDGE_ADDRESS, port: int = paths.REPO_PORT) -> Path:
    """The pidfile of the server on address:port (the lab's own keeps the historical name)."""
    if (address, port) == (paths.BRIDGE_ADDRESS, paths.REPO_PORT):
        return PIDFILE
    return paths.RUN / f"repo-server-{address}-{port}.pid"


def _pid(pidpath: Path = PIDFILE) -> int | None:
    try:
        pid = int(pidpath.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def _orphan_servers(address: str, port: int) -> list[int]:
    """Pids of lab repository servers listening on address:port that no pidfile records.

    Two processes switching the server to a new tree at once could leave one running unrecorded,
    holding the port; it is recognised by its exact command line (ours), never by name alone.
    """
    found = []
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit():
            continue
        try:
            argv = (proc_dir / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"http.server" in argv and b"--bind" in argv and argv[-2:] == [str(port).encode(), b""] and \
                argv[argv.index(b"--bind") + 1:argv.index(b"--bind") + 2] == [address.encode()] and \
                any(a.startswith(str(REPO_CACHE).encode()) for a in argv):
            found.append(int(proc_dir.name))
    return found


def ensure_served(address: str = paths.BRIDGE_ADDRESS, port: int = paths.REPO_PORT) -> None:
    """Start the repository's HTTP server on address:port (only) unless it already runs."""
    directory = build_repo()
    paths.RUN.mkdir(parents=True, exist_ok=True)
    with open(paths.RUN / f"repo-server-{address}-{port}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one process switches the server at a time
        _ensure_served_locked(directory, address, port)


def _ensure_served_locked(directory: Path, address: str, port: int) -> None:
    pidpath = pidfile(address, port)
    pid = _pid(pidpath)
    if pid is not None:
        recorded = pidpath.read_text().split()
        if len(recorded) > 1 and recorded[1] == str(directory):
            return
        stop_served(address, port)
    for orphan in _orphan_servers(address, port):
        os.kill(orphan, signal.SIGTERM)
        _wait_gone(orphan)
    log = open(pidpath.with_suffix(".log"), "ab")  # noqa: SIM115 - handed to the detached server
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", address, "--directory", str(directory), str(port)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    log.close()
    pidpath.write_text(f"{proc.pid} {directory}\n")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=0.3):
                return
        except OSError:
            if proc.poll() is not None:
                raise HostprepError(f"the lab repository server exited ({proc.returncode}); see "
                                    f"{pidpath.with_suffix('.log')}")
            time.sleep(0.05)
    raise HostprepError("the lab repository server did not start listening")


def stop_served(address: str = paths.BRIDGE_ADDRESS, port: int = paths.REPO_PORT) -> None:
    """Stop the repository server on address:port by its recorded pid (never by name)."""
    pidpath = pidfile(address, port)
    pid = _pid(pidpath)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        _wait_gone(pid)
    pidpath.unlink(missing_ok=True)


def _wait_gone(pid: int) -> None:
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "build"
    if cmd == "build":
        started = time.monotonic()
        print(f"{build_repo(rebuild='--rebuild' in argv)} ({time.monotonic() - started:.1f}s)")
    elif cmd == "serve":
        ensure_served()
    elif cmd == "stop":
        stop_served()
    elif cmd == "fingerprint":
        print(lab_key_fingerprint())
    else:
        print("usage: python -m hostprep.lab.repo build [--rebuild] | serve | stop | fingerprint", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
