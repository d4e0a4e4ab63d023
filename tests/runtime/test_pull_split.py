"""A pulled plain-tar layer is written once: its unpacked files plus the tar's other bytes (tarsplit.py), and
the exact blob is made again from them when it is needed (a push), checked against the digest.

The round trip is tested on tars made to be awkward (PAX long names and records, hard and symbolic links,
empty files, sizes off the 512-byte grid, a path written twice, whiteouts, trailing padding), and end to end
through a real registry: pull (no blob file, the split file instead), run, push to a new repository (the
registry checks the rebuilt blob's digest), and a pull by skopeo of what was pushed.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from hostprep.runtime import tarsafe, tarsplit
from hostprep.runtime.store import _same_file
from tests.runtime.build_peer import runtime_env
from tests.runtime.registry_support import Registry
from tests.runtime.support import busybox_rootfs_tar


def _tar(entries, fmt=tarfile.PAX_FORMAT, pad_to=None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if kind == "file":
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, data
                tar.addfile(info)
    raw = buf.getvalue()
    if pad_to:
        raw += b"\0" * (-len(raw) % pad_to)
    return raw


AWKWARD = [
    ("d", "dir", None),
    ("d/empty", "file", b""),
    ("d/odd", "file", os.urandom(1000)),
    ("d/" + "long-name-" * 20, "file", b"x" * 513),
    ("d/exact", "file", b"y" * 1024),
    ("d/link", "sym", "odd"),
    ("d/hard", "hard", "d/odd"),
    ("d/.wh.gone", "file", b""),
    ("d/ünïcode", "file", b"pax path"),
    ("big", "file", os.urandom(3 << 20)),
]


def _split_round_trip(tmp_path: Path, raw: bytes, chunk: int) -> tuple[bytes, bool]:
    root = tmp_path / "root"
    split = tmp_path / "split"
    files = []

    def member(m, path):
        if m.isreg() and m.size:
            files.append((os.path.relpath(path, root), m.size, os.lstat(path).st_ino))

    stream = io.BytesIO(raw)
    with open(split, "wb") as out:
        splitter = tarsplit.Splitter(out)

        class Feeding:
            def read(self, n=-1):
                data = stream.read(min(n, chunk) if n and n > 0 else chunk)
                splitter.feed(data)
                return data

        feeding = Feeding()
        tarsafe.extract_fileobj(feeding, str(root), whiteouts=True, on_member=member)
        while feeding.read(chunk):
            pass
        splitter.close()
    stands = splitter.files == len(files) and all(_same_file(str(root / p), s, i) for p, s, i in files)
    (tmp_path / "split.paths").write_text(__import__("json").dumps([p for p, _, _ in files]))
    out = io.BytesIO()
    if stands:
        tarsplit.rebuild(str(split), str(root), out)
    data = sum(size for _, size, _ in files)
    assert os.path.getsize(split) <= len(raw) - data + 9 * 64  # the file data are not in the split file
    return out.getvalue(), stands


@pytest.mark.parametrize("chunk", [1, 511, 4096, 1 << 20])
@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_split_rebuilds_the_exact_blob(tmp_path: Path, chunk: int, fmt: int) -> None:
    entries = AWKWARD if chunk > 1 else AWKWARD[:-1]  # byte by byte: the 3 MB file would take long
    raw = _tar(entries, fmt, pad_to=10240)
    assert tarsplit.is_plain_tar(raw[:4096])
    rebuilt, stands = _split_round_trip(tmp_path, raw, chunk)
    assert stands and rebuilt == raw


def test_a_path_written_twice_keeps_the_blob(tmp_path: Path) -> None:
    raw = _tar([("a", "file", b"first" * 300), ("a", "file", b"second")])
    _, stands = _split_round_trip(tmp_path, raw, 4096)
    assert not stands  # the first entry's data are gone from the tree: the split file cannot stand for the blob


def test_compressed_blobs_are_not_split() -> None:
    import gzip

    raw = _tar([("a", "file", b"data")])
    assert tarsplit.is_plain_tar(raw) and not tarsplit.is_plain_tar(gzip.compress(raw))


def test_pull_keeps_a_plain_layer_once_and_push_rebuilds_it(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "registry", tls=False, auth=False)
    try:
        env = runtime_env(tmp_path / "state")

        def rt(state: str, *args: str) -> subprocess.CompletedProcess:
            e = dict(env, HOSTPREP_RUNTIME_ROOT=str(tmp_path / state))
            return subprocess.run([sys.executable, "-m", "hostprep.runtime", *args], capture_output=True,
                                  text=True, env=e, timeout=300)

        tar = busybox_rootfs_tar(tmp_path)
        assert rt("state", "import", str(tar), "bb").returncode == 0
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        (ctx / "blob").write_bytes(os.urandom(5 << 20))
        (ctx / "Dockerfile").write_text("FROM bb\nCOPY blob /data/blob\nRUN ln -s blob /data/link\n")
        assert rt("state", "build", "-t", "split", str(ctx)).returncode == 0
        res = rt("state", "push", "--plain-http", "split", f"{reg.host}/split/a:1")
        assert res.returncode == 0, res.stderr
        res = rt("pulled", "pull", "--plain-http", f"{reg.host}/split/a:1")
        assert res.returncode == 0, res.stderr
        pulled = tmp_path / "pulled"
        blobs = pulled / "oci" / "blobs" / "sha256"
        layers = sorted(p.name for p in (pulled / "layers").iterdir())
        assert layers and all((pulled / "layers" / h / "split").exists() for h in layers)
        assert not any((blobs / h).exists() for h in layers)  # written once: no blob file beside the files
        res = rt("pulled", "run", "--rm", f"{reg.host}/split/a:1", "sh", "-c", "wc -c < /data/link")
        assert res.returncode == 0 and res.stdout.strip() == str(5 << 20), res.stderr
        res = rt("pulled", "push", "--plain-http", f"{reg.host}/split/a:1", f"{reg.host}/split/b:1")
        assert res.returncode == 0, res.stderr  # the registry took the rebuilt blobs (it checks each digest)
        assert all((blobs / h).exists() and not (pulled / "layers" / h / "split").exists() for h in layers)
        out = tmp_path / "skopeo-oci"
        res = subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{reg.host}/split/b:1",
                              f"oci:{out}:x"], capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
    finally:
        reg.stop()
