"""Image archives made as an attacker would make them, imported with the runtime's CLI (under every Python the
runtime supports): none may bring a host file into an image, crash with a traceback, or leave blobs behind.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from tests.runtime.support import ROOT

SECRET = b"host-secret-4711\n"


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _add(t: tarfile.TarFile, name: str, data: bytes = b"", **kw) -> None:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    for k, v in kw.items():
        setattr(info, k, v)
    if info.type == tarfile.REGTYPE:
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    else:
        t.addfile(info)


def _layer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            _add(t, name, data)
    return buf.getvalue()


def _docker_save(path: Path, config_name: str, layers: list[str], members: dict[str, bytes],
                 links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w") as t:
        for name, data in members.items():
            _add(t, name, data)
        for name, target in (links or {}).items():
            _add(t, name, type=tarfile.SYMTYPE, linkname=target)
        _add(t, "manifest.json", json.dumps([{"Config": config_name, "RepoTags": ["evil:1"],
                                               "Layers": layers}]).encode())
    return path


def _blobs(rt) -> set[str]:
    return {p.name for p in (rt.state / "oci/blobs/sha256").iterdir()}


def _refused(rt, res: subprocess.CompletedProcess, *words: str) -> None:
    assert res.returncode == 125, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    for word in words:
        assert word in res.stderr, res.stderr
    assert "evil" not in rt("images").stdout


@pytest.fixture()
def host_layer(tmp_path: Path) -> Path:
    """A layer tar on the host, outside any archive, holding a secret: what an escaping path would import."""
    path = tmp_path / "host-layer.tar"
    path.write_bytes(_layer({"secret.txt": SECRET}))
    return path


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink-absolute", "symlink-relative"])
def test_docker_save_layer_path_outside_the_archive_is_refused(rt, tmp_path: Path, host_layer: Path,
                                                               how: str) -> None:
    config = json.dumps({"config": {"Cmd": ["/bin/true"]}, "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    links = {}
    if how == "absolute":
        layer = str(host_layer)
    elif how == "dotdot":
        layer = "../" * 12 + str(host_layer).lstrip("/")
    elif how == "symlink-absolute":
        layer, links = "l1/layer.tar", {"l1/layer.tar": str(host_layer)}
    else:
        layer, links = "l1/layer.tar", {"l1/layer.tar": "../" * 12 + str(host_layer).lstrip("/")}
    archive = _docker_save(tmp_path / f"{how}.tar", "c.json", [layer], {"c.json": config}, links)
    before = _blobs(rt)
    res = rt("import", str(archive), "evil:1")
    # a relative link out is already refused while the archive is unpacked; the others when the manifest is read
    _refused(rt, res, "points outside" if how == "symlink-relative" else "Layers[0]")
    assert _blobs(rt) == before
    assert _sha(host_layer.read_bytes())[7:] not in _blobs(rt)


@pytest.mark.parametrize("config_path", ["/etc/hostname", "../../../../../../etc/hostname", "cfg-link"])
def test_docker_save_config_path_outside_the_archive_is_refused(rt, tmp_path: Path, config_path: str) -> None:
    archive = _docker_save(tmp_path / "cfg.tar", config_path, ["l.tar"], {"l.tar": _layer({"a": b"a"})},
                           {"cfg-link": "/etc/hostname"})
    _refused(rt, rt("import", str(archive), "evil:1"), "Config")


def test_oci_digest_naming_a_path_is_refused(rt, tmp_path: Path) -> None:
    layout = tmp_path / "oci"
    (layout / "blobs/sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:../../../../../dev/zero",
         "size": 1}]}))
    res = rt("import", str(layout), "evil:1", timeout=30)  # /dev/zero read to the end would never finish
    _refused(rt, res, "digest")


@pytest.mark.parametrize("cut", ["gzip-layer", "gzip-rootfs", "tar-rootfs"])
def test_truncated_archives_are_errors_not_tracebacks(rt, tmp_path: Path, cut: str) -> None:
    layer = _layer({f"f{i}": os.urandom(2048) for i in range(20)})
    if cut == "gzip-layer":
        data = gzip.compress(layer)[:-400]
        config = json.dumps({"config": {}, "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        path = _docker_save(tmp_path / "a.tar", "c.json", ["l.tar.gz"], {"c.json": config, "l.tar.gz": data})
    else:
        data = gzip.compress(layer)[: len(layer) // 3] if cut == "gzip-rootfs" else layer[: len(layer) // 2 + 100]
        path = tmp_path / "rootfs.tar"
        path.write_bytes(data)
    before = _blobs(rt)
    res = rt("import", str(path), "evil:1")
    _refused(rt, res)
    assert _blobs(rt) == before


def test_failed_import_leaves_no_orphan_blob(rt, tmp_path: Path) -> None:
    good = _layer({"ok.txt": b"fine\n" * 1000})
    bad = io.BytesIO()
    with tarfile.open(fileobj=bad, mode="w") as t:
        _add(t, "ok2.txt", b"x")
        _add(t, "dev/sda", type=tarfile.BLKTYPE, devmajor=8, devminor=0)
    config = json.dumps({"config": {}, "rootfs": {"type": "layers",
                                                  "diff_ids": [_sha(good), _sha(bad.getvalue())]}}).encode()
    archive = _docker_save(tmp_path / "half.tar", "c.json", ["a.tar", "b.tar"],
                           {"c.json": config, "a.tar": good, "b.tar": bad.getvalue()})
    before_blobs = _blobs(rt)
    before_layers = {p.name for p in (rt.state / "layers").iterdir()}
    _refused(rt, rt("import", str(archive), "evil:1"), "device")
    assert _blobs(rt) == before_blobs
    assert {p.name for p in (rt.state / "layers").iterdir()} == before_layers
    assert not [p for p in rt.state.iterdir() if p.name.startswith(".import-")]


def test_setuid_setgid_and_file_capabilities_survive_import(rt, tmp_path: Path) -> None:
    # VFS_CAP_REVISION_2 with the effective flag, permitted 0x000000ff: binary, not UTF-8 (as Go's tar writes it)
    cap = bytes.fromhex("01000002ff000000000000000000000000000000")
    layer = tmp_path / "caps.tar"
    with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as t:
        _add(t, "bin", type=tarfile.DIRTYPE, mode=0o755)
        _add(t, "bin/suid", b"#!/bin/sh\n", mode=0o4755, uid=0, gid=0)
        _add(t, "bin/sgid", b"#!/bin/sh\n", mode=0o2755, uid=1000, gid=50)
        info = tarfile.TarInfo("bin/ping")
        info.size, info.mode, info.uid, info.gid = 4, 0o755, 1000, 1000
        info.pax_headers = {"SCHILY.xattr.security.capability": cap.decode("utf-8", "surrogateescape"),
                            "SCHILY.xattr.trusted.overlay.redirect": "/etc"}
        t.addfile(info, io.BytesIO(b"ping"))
    res = rt("import", str(layer), "caps")
    assert res.returncode == 0, res.stderr
    manifest = json.loads(rt("inspect", "caps").stdout)["manifest"]
    root = rt.state / "layers" / manifest["layers"][0]["digest"][7:] / "root"
    suid, sgid, ping = (os.lstat(root / "bin" / n) for n in ("suid", "sgid", "ping"))
    assert oct(suid.st_mode & 0o7777) == oct(0o4755)
    assert (oct(sgid.st_mode & 0o7777), sgid.st_uid, sgid.st_gid) == (oct(0o2755), 1000, 50)
    assert (ping.st_uid, ping.st_gid) == (1000, 1000)
    got = os.getxattr(root / "bin/ping", "security.capability")
    assert got == cap, got.hex()
    assert "trusted.overlay.redirect" not in os.listxattr(root / "bin/ping")


def _many_entries(path: Path, count: int) -> Path:
    with tarfile.open(path, "w") as t:
        _add(t, "d", type=tarfile.DIRTYPE, mode=0o755)
        for i in range(count):
            _add(t, f"d/{i:06d}-{'x' * 60}", b"x" * (i % 3))
    return path


def test_large_archive_is_read_in_constant_memory(tmp_path: Path) -> None:
    """Scanning 15 000 entries and extracting 6 000: tarfile's own list of members would hold ~500 bytes per
    entry (7 MB, 3 MB); read as a stream the peak stays that of a few entries."""
    from hostprep.runtime import importer, tarsafe

    tarsafe.extract(str(_many_entries(tmp_path / "warm.tar", 3)), str(tmp_path / "warm"))  # first-use allocations
    scan, extract = _many_entries(tmp_path / "scan.tar", 15000), _many_entries(tmp_path / "extract.tar", 6000)
    tracemalloc.start()
    try:
        assert importer.detect(str(scan)) == "rootfs"
        _, scan_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        tarsafe.extract(str(extract), str(tmp_path / "out"))
        _, extract_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(os.listdir(tmp_path / "out/d")) == 6000
    assert scan_peak < 1 << 20, scan_peak
    assert extract_peak < 1536 << 10, extract_peak


def test_import_errors_name_the_problem(rt, tmp_path: Path) -> None:
    _refused(rt, rt("import", str(tmp_path / "missing.tar"), "evil:1"), "No such file")
    os.mkfifo(tmp_path / "fifo")
    for endless in ("/dev/zero", str(tmp_path / "fifo")):  # would block, or be read for ever
        _refused(rt, rt("import", endless, "evil:1", timeout=20), "not a regular file")
    notjson = _docker_save(tmp_path / "nj.tar", "c.json", ["l.tar"], {"c.json": b"{not json", "l.tar": _layer({})})
    _refused(rt, rt("import", str(notjson), "evil:1"), "JSON")
    nolayers = tmp_path / "nl.tar"
    with tarfile.open(nolayers, "w") as t:
        _add(t, "c.json", b"{}")
        _add(t, "manifest.json", json.dumps([{"Config": "c.json"}]).encode())
    _refused(rt, rt("import", str(nolayers), "evil:1"), "'Layers'")


def test_streaming_helpers_run_on_every_python(tmp_path: Path) -> None:
    """tarsafe's streaming under Python 3.6 and 3.9 (tarfile's internals differ between versions)."""
    from tests.runtime.support import PYTHONS, python_for

    path = tmp_path / "s.tar"
    with tarfile.open(path, "w:gz") as t:
        for i in range(50):
            _add(t, f"f{i}", b"data")
    code = ("import sys; from hostprep.runtime import tarsafe; tarsafe.extract(sys.argv[1], sys.argv[2]); "
            "import os; print(len(os.listdir(sys.argv[2])))")
    for param in PYTHONS:
        out = tmp_path / f"out-{param}"
        res = subprocess.run([python_for(param), "-c", code, str(path), str(out)], capture_output=True, text=True,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=str(ROOT))
        assert res.returncode == 0 and res.stdout.strip() == "50", (param, res.stderr)
    assert sys.version_info >= (3, 6)
