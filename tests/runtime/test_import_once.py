"""`import` of a root filesystem tar, plain or gzip, writes the layer once (issue 13), as a pull keeps it: its
unpacked files plus a split file of the tar's other bytes, no blob file and no uncompressed temporary copy; the
layer's digest and the image are what storing the uncompressed tar gave (checked against the sha256 of the tar,
computed here), `save` gives back the exact tar, and a container runs from it. A tar that writes a path twice
cannot be kept so: it is stored as before (blob, then unpacked), and that path's bytes written are printed beside
the single pass's (the process's wchar from /proc/self/io, and the store's growth on disk).

Under every interpreter of the `rt` fixture; the in-process checks (bounded memory, broken gzip, a cut tar)
call the importer directly, without detect()'s scan that would otherwise catch a broken archive first.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from hostprep.runtime.store import DEFAULT_PATH, MT_CONFIG, MT_LAYER, MT_MANIFEST, ImageError, Store, disk_usage
from tests.runtime.support import BUSYBOX

BIG = 24 << 20  # bytes of file data in each generated tar
PIECES = 6
APPLETS = ("sh", "cat", "sha256sum", "readlink", "wc")
# runs the CLI as `python -m hostprep.runtime` does, then reports the process's I/O counters on stderr
WRAP = ("import runpy, sys\n"
        "sys.argv = ['hostprep-runtime'] + sys.argv[1:]\n"
        "try:\n"
        "    runpy.run_module('hostprep.runtime', run_name='__main__')\n"
        "finally:\n"
        "    with open('/proc/self/io') as io_:\n"
        "        sys.stderr.write('IO ' + ' '.join(io_.read().split()) + '\\n')\n")


# today's rootfs import before issue 13 (import_any's body then, after detect): the uncompressed tar (a copy of a
# gzip one), copied into a blob by commit, then unpacked from it
BEFORE = ("import shutil, sys, tempfile\n"
          "from hostprep.runtime import importer\n"
          "from hostprep.runtime.store import Store\n"
          "store = Store()\n"
          "with store.lock():\n"
          "    work = tempfile.mkdtemp(dir=store.root, prefix='.import-')\n"
          "    try:\n"
          "        layer = importer._uncompressed(sys.argv[1], work)\n"
          "        store.commit(sys.argv[2], [layer], config={'Cmd': ['/bin/sh']})\n"
          "    finally:\n"
          "        shutil.rmtree(work)\n"
          "with open('/proc/self/io') as io_:\n"
          "    sys.stderr.write('IO ' + ' '.join(io_.read().split()) + '\\n')\n")


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _rootfs_tar(seed: bytes, dup: bool = False) -> tuple[bytes, dict[str, bytes]]:
    """A busybox root with PIECES random files of BIG bytes in all, and the awkward entries a split file must
    carry (PAX long name, hard and symbolic links, an empty file, sizes off the 512-byte grid). `dup`: the first
    big file is written twice (the second wins), which a split file cannot stand for."""
    files = {f"big/f{i}": hashlib.sha256(seed + bytes([i])).digest() + os.urandom(BIG // PIECES - 32 + i * 7)
             for i in range(PIECES)}
    files["etc/motd"] = b"imported once: " + seed + b"\n"
    files["d/" + "long-name-" * 20] = b"x" * 513
    files["d/empty"] = b""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in ("bin", "big", "etc", "d", "tmp", "proc", "sys", "dev"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            t.addfile(info)
        t.add(BUSYBOX, arcname="bin/busybox")
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            t.addfile(info)
        for name, data in list(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
            t.addfile(info, io.BytesIO(data))
            if dup and name == "big/f0":  # early on: the single pass gives up there, not at the end
                again = b"second version\n" * 1000
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(again), 0o644
                t.addfile(info, io.BytesIO(again))
                files[name] = again
        info = tarfile.TarInfo("d/hard")
        info.type, info.linkname = tarfile.LNKTYPE, "etc/motd"
        t.addfile(info)
        info = tarfile.TarInfo("d/sym")
        info.type, info.linkname = tarfile.SYMTYPE, "../etc/motd"
        t.addfile(info)
    return buf.getvalue(), files


@pytest.fixture(scope="module")
def tars(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, bytes, dict[str, bytes]]]:
    """name: (file, its uncompressed tar, the files it holds); gzip ones with zero padding after the member."""
    base = tmp_path_factory.mktemp("tars")
    out = {}
    for name, dup, gz in (("plain", False, False), ("gz", False, True), ("dup", True, False), ("dupgz", True, True)):
        raw, files = _rootfs_tar(name.encode(), dup)
        path = base / (name + (".tar.gz" if gz else ".tar"))
        if gz:  # one member (detect()'s tarfile stream reads no other), then zero padding as gzip(1) allows
            path.write_bytes(gzip.compress(raw, 1) + b"\0" * 1000)
        else:
            path.write_bytes(raw)
        out[name] = (path, raw, files)
    return out


def _import(rt, path: Path, name: str, code: str = WRAP, state: Path | None = None) -> dict[str, int]:
    """`import` in a process of its own (or `code`, on the store `state`); its /proc/self/io counters, and the
    store's growth on disk."""
    state = state or rt.state
    before = disk_usage(str(state))
    res = subprocess.run([rt.python, "-c", code, str(path), name] if code is BEFORE else
                         [rt.python, "-c", code, "import", str(path), name], capture_output=True, text=True,
                         env=dict(rt.env, HOSTPREP_RUNTIME_ROOT=str(state)), timeout=300)
    assert res.returncode == 0, res.stderr
    line = [ln for ln in res.stderr.splitlines() if ln.startswith("IO ")][-1].split()[1:]
    counters = {k.rstrip(":"): int(v) for k, v in zip(line[::2], line[1::2], strict=True)}
    counters["store_growth"] = disk_usage(str(state)) - before
    return counters


def _stored(rt, name: str, state: Path | None = None) -> tuple[str, dict, bytes]:
    """(manifest digest, manifest, config bytes) of an image, read from the store's files."""
    state = state or rt.state
    index = json.loads((state / "oci/index.json").read_text())
    digest = next(m["digest"] for m in index["manifests"]
                  if m["annotations"]["org.opencontainers.image.ref.name"] == name + ":latest")
    blobs = state / "oci/blobs/sha256"
    manifest = json.loads((blobs / digest[7:]).read_bytes())
    return digest, manifest, (blobs / manifest["config"]["digest"][7:]).read_bytes()


def _as_before(rt, name: str, raw: bytes) -> None:
    """The image is the one storing the uncompressed tar gave: a layer of its sha256 and size, the config and
    manifest byte for byte what commit() wrote then (made here from their fields), so the same ids."""
    digest, manifest, config = _stored(rt, name)
    created = json.loads(config)["created"]
    want_cfg = json.dumps({"architecture": "amd64", "os": "linux", "created": created,
                           "config": {"Env": ["PATH=" + DEFAULT_PATH], "Cmd": ["/bin/sh"]},
                           "rootfs": {"type": "layers", "diff_ids": [_sha(raw)]}}, sort_keys=True).encode()
    assert config == want_cfg
    want_manifest = json.dumps({"schemaVersion": 2, "mediaType": MT_MANIFEST,
                                "config": {"mediaType": MT_CONFIG, "digest": _sha(want_cfg), "size": len(want_cfg)},
                                "layers": [{"mediaType": MT_LAYER, "digest": _sha(raw), "size": len(raw)}]},
                               sort_keys=True).encode()
    assert digest == _sha(want_manifest), (manifest, json.loads(want_manifest))


def _runs(rt, name: str, files: dict[str, bytes]) -> None:
    res = rt("run", "--rm", name, "sha256sum", "/big/f0", f"/big/f{PIECES - 1}", "/d/empty")
    assert res.returncode == 0, res.stderr
    sums = {line.split()[1]: line.split()[0] for line in res.stdout.splitlines()}
    for p in ("big/f0", f"big/f{PIECES - 1}", "d/empty"):
        assert sums["/" + p] == hashlib.sha256(files[p]).hexdigest(), (p, res.stdout)
    res = rt("run", "--rm", name, "sh", "-c", "cat /etc/motd /d/hard /d/sym; readlink /d/sym; wc -c /d/long-name-*")
    motd = files["etc/motd"].decode()
    assert res.stdout.startswith(motd * 3 + "../etc/motd\n513 "), res.stdout + res.stderr


def _saved_layer(rt, tmp: Path, name: str, digest: str) -> bytes:
    out = tmp / f"{name}-saved.tar"
    res = rt("save", "-o", str(out), name)
    assert res.returncode == 0, res.stderr
    with tarfile.open(out) as t:
        return t.extractfile(f"blobs/sha256/{digest[7:]}").read()


def _report(what: str, size: int, io_: dict[str, int]) -> None:
    print(f"\n{what}: tar {size / 1e6:.1f} MB; import wrote {io_['wchar'] / 1e6:.1f} MB (wchar, "
          f"{io_['wchar'] / size:.2f}x), write_bytes {io_['write_bytes'] / 1e6:.1f} MB, cancelled "
          f"{io_['cancelled_write_bytes'] / 1e6:.1f} MB; the store grew {io_['store_growth'] / 1e6:.1f} MB")


@pytest.mark.parametrize("kind", ["plain", "gz"])
def test_a_rootfs_tar_is_written_once(rt, tars, tmp_path: Path, kind: str) -> None:
    path, raw, files = tars[kind]
    name = f"once-{kind}"
    old_state = rt.base / f"before-{kind}"
    try:  # the same tar through the code import ran before, on a store of its own
        old_io = _import(rt, path, name, BEFORE, old_state)
        _, old_manifest, old_config = _stored(rt, name, old_state)
    finally:
        shutil.rmtree(old_state, ignore_errors=True)
    io_ = _import(rt, path, name)
    _report(f"{kind} rootfs, before (blob, then unpacked)", len(raw), old_io)
    _report(f"{kind} rootfs, one pass", len(raw), io_)
    digest = _sha(raw)
    _as_before(rt, name, raw)
    _, manifest, config = _stored(rt, name)
    assert manifest == old_manifest or json.loads(config)["created"] != json.loads(old_config)["created"]
    assert manifest["layers"] == old_manifest["layers"]
    assert {k: v for k, v in json.loads(config).items() if k != "created"} == {
        k: v for k, v in json.loads(old_config).items() if k != "created"}
    layer = rt.state / "layers" / digest[7:]
    assert not (rt.state / "oci/blobs/sha256" / digest[7:]).exists()  # no blob beside the files
    assert not [p for p in (rt.state / "oci/blobs/sha256").iterdir() if p.stat().st_size > 1 << 20]
    assert (layer / "split").is_file() and (layer / "split.paths").is_file() and (layer / ".complete").exists()
    assert (layer / "split").stat().st_size < 64 << 10  # headers and padding only
    assert not [p for p in rt.state.iterdir() if p.name.startswith(".import-")]
    assert not [p for p in (rt.state / "layers").iterdir() if p.name.startswith((".import-", ".pull-"))]
    # written once: the files (BIG), the split file and a few small blobs; before, 2x (plain) or 3x (gzip)
    assert io_["wchar"] < len(raw) * 1.1, io_
    assert old_io["wchar"] > len(raw) * (2.9 if kind == "gz" else 1.9), old_io
    assert io_["store_growth"] < len(raw) * 1.15, io_
    _runs(rt, name, files)
    assert _sha(_saved_layer(rt, tmp_path, name, digest)) == digest  # the exact tar, rebuilt from its files
    assert rt("rmi", name).returncode == 0
    assert not layer.exists() and not (rt.state / "oci/blobs/sha256" / digest[7:]).exists()


@pytest.mark.parametrize("kind", ["dup", "dupgz"])
def test_a_tar_that_writes_a_path_twice_is_stored_as_before(rt, tars, tmp_path: Path, kind: str) -> None:
    path, raw, files = tars[kind]
    name = f"once-{kind}"
    io_ = _import(rt, path, name)
    _report(f"{kind} rootfs, a path written twice (the single pass given up there; blob, then unpacked)",
            len(raw), io_)
    digest = _sha(raw)
    _as_before(rt, name, raw)
    assert (rt.state / "oci/blobs/sha256" / digest[7:]).stat().st_size == len(raw)
    assert not (rt.state / "layers" / digest[7:] / "split").exists()
    assert not [p for p in rt.state.iterdir() if p.name.startswith(".import-")]
    assert not [p for p in (rt.state / "layers").iterdir() if p.name.startswith((".import-", ".pull-"))]
    # the blob and the files, as before (2x plain, 3x gzip), and the single pass up to the second write
    extra = 1 if kind == "dupgz" else 0
    assert len(raw) * (1.9 + extra) < io_["wchar"] < len(raw) * (2.4 + extra), io_
    _runs(rt, name, files)
    assert rt("run", "--rm", name, "cat", "/big/f0").stdout == files["big/f0"].decode()
    assert _sha(_saved_layer(rt, tmp_path, name, digest)) == digest
    assert rt("rmi", name).returncode == 0


def _docker_save(path: Path, config: str, layer: bytes) -> Path:
    manifest = json.dumps([{"Config": "c.json", "Layers": ["l/layer.tar.gz"]}]).encode()
    with tarfile.open(path, "w") as t:
        for member, data in (("c.json", config.encode()), ("l/layer.tar.gz", layer), ("manifest.json", manifest)):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


def test_an_archive_layer_is_written_once(rt, tars, tmp_path: Path) -> None:
    """A `docker save` archive's gzip layer: kept as its files and a split file, checked against the diff_id."""
    _, raw, files = tars["gz"]
    config = json.dumps({"config": {"Cmd": ["/bin/sh"]}, "rootfs": {"type": "layers", "diff_ids": [_sha(raw)]}})
    layer = gzip.compress(raw, 1)
    archive = _docker_save(tmp_path / "saved.tar", config, layer)
    assert rt("import", str(archive), "once-archive").returncode == 0
    _, manifest, _ = _stored(rt, "once-archive")
    assert manifest["layers"] == [{"mediaType": MT_LAYER, "digest": _sha(raw), "size": len(raw)}]
    assert not (rt.state / "oci/blobs/sha256" / _sha(raw)[7:]).exists()
    assert (rt.state / "layers" / _sha(raw)[7:] / "split").is_file()
    _runs(rt, "once-archive", files)
    res = rt("rmi", "once-archive")
    assert res.returncode == 0 and f"Deleted: {_sha(raw)}" in res.stdout, res.stdout
    # a layer that is not what the config says is refused, and nothing of it stays
    wrong = json.dumps({"config": {}, "rootfs": {"type": "layers", "diff_ids": [_sha(b"other")]}})
    bad = _docker_save(tmp_path / "bad.tar", wrong, layer)
    before = sorted(p.name for p in (rt.state / "layers").iterdir())
    res = rt("import", str(bad), "once-bad")
    assert res.returncode == 125 and "does not match the image config" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert sorted(p.name for p in (rt.state / "layers").iterdir()) == before


def _store(tmp: Path) -> Store:
    return Store(str(tmp / "state"))


def _left(store: Store) -> list[str]:
    return sorted(os.listdir(store.blobs)) + sorted(os.listdir(store.layers)) + sorted(
        p for p in os.listdir(store.root) if p.startswith(".import-"))


def test_broken_gzip_and_cut_tar_are_errors_naming_the_file(tmp_path: Path) -> None:
    """Straight to the importer (detect() would refuse these first): the single pass itself reports them."""
    from hostprep.runtime import importer

    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as t:
        for i in range(8):
            info = tarfile.TarInfo(f"f{i}")
            info.size = 100000
            t.addfile(info, io.BytesIO(os.urandom(100000)))
    raw = layer.getvalue()
    packed = gzip.compress(raw, 1)
    flipped = bytearray(packed)
    flipped[len(packed) // 2] ^= 0xFF
    cases = {"cut.tar.gz": packed[: len(packed) // 2], "flipped.tar.gz": bytes(flipped),
             "cut.tar": raw[: len(raw) // 2 + 100], "garbage-after.tar.gz": packed + b"not gzip" * 10}
    store = _store(tmp_path)
    for fname, data in cases.items():
        path = tmp_path / fname
        path.write_bytes(data)
        with store.lock():
            work = tmp_path / "state" / ".import-x"
            work.mkdir()
            with pytest.raises(ImageError) as err:
                importer._keep_layer(store, str(path), str(work))
            assert fname in str(err.value), (fname, err.value)
            work.rmdir()  # nothing of the attempt in it
            store.gc()
        assert _left(store) == [], (fname, _left(store))
    ok = tmp_path / "ok.tar.gz"  # two members and zero padding, as gzip(1) reads them
    ok.write_bytes(gzip.compress(raw[:300000], 1) + gzip.compress(raw[300000:], 1) + b"\0" * 700)
    with store.lock():
        work = tmp_path / "state" / ".import-y"
        work.mkdir()
        desc = importer._keep_layer(store, str(ok), str(work))
    assert desc == {"mediaType": MT_LAYER, "digest": _sha(raw), "size": len(raw)}
    assert os.listdir(work) == []


def test_the_single_pass_takes_bounded_memory(tars, tmp_path: Path) -> None:
    from hostprep.runtime import importer

    store = _store(tmp_path)
    path, raw, _ = tars["gz"]
    with store.lock():
        work = tmp_path / "state" / ".import-z"
        work.mkdir()
        tracemalloc.start()
        try:
            desc = importer._keep_layer(store, str(path), str(work))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert desc["digest"] == _sha(raw)
    assert peak < 8 << 20, peak  # a few 1 MiB chunks, for a 24 MB tar
