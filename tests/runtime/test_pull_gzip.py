"""A pulled gzip layer is written once too: inflated as it arrives, its unpacked files plus a split file of the
tar's other bytes are kept, not the compressed blob (issue 13). The compressed bytes cannot be made again, so
a push goes as podman's storage does it: the registry's own copy when it has it (or mounts it), else the layer
uncompressed with a manifest that says so; a save gives it uncompressed. The tar inflated is checked against
the config's diff_id as well as the blob against its digest.

Real peers: skopeo compresses the layers (Go's gzip) into a real registry; skopeo copies what the runtime
pushed back; under the control node's Python, 3.9 and 3.6 (the `rt` fixture).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import urllib.request
from pathlib import Path

import pytest

from tests.runtime.registry_support import Registry


@pytest.fixture(scope="module")
def registries(tmp_path_factory: pytest.TempPathFactory):
    a = Registry(tmp_path_factory.mktemp("registry-a"), tls=False, auth=False)
    b = Registry(tmp_path_factory.mktemp("registry-b"), tls=False, auth=False)
    yield a, b
    a.stop()
    b.stop()


def _manifest(host: str, repo: str, ref: str) -> tuple[dict, str]:
    req = urllib.request.Request(f"http://{host}/v2/{repo}/manifests/{ref}", headers={
        "Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        data = resp.read()
    return json.loads(data), "sha256:" + hashlib.sha256(data).hexdigest()


def _upload(host: str, repo: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    req = urllib.request.Request(f"http://{host}/v2/{repo}/blobs/uploads/", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        location = resp.headers["Location"]
    location = location if location.startswith("http") else f"http://{host}{location}"
    sep = "&" if "?" in location else "?"
    req = urllib.request.Request(f"{location}{sep}digest={digest}", data=data, method="PUT",
                                 headers={"Content-Type": "application/octet-stream"})
    urllib.request.urlopen(req, timeout=30).close()
    return digest


def _layers(state: Path) -> list[Path]:
    return sorted(p for p in (state / "layers").iterdir() if not p.name.startswith("."))


def test_gzip_layer_kept_once_push_and_save(rt, registries) -> None:
    reg, other = registries
    tag = os.path.basename(str(rt.base)).replace("_", "-").lower()
    ctx = Path(rt.base) / "gz-ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "text").write_text("compressible line\n" * 50000)
    (ctx / "random").write_bytes(os.urandom(3 << 20))
    (ctx / "Dockerfile").write_text("FROM bb\nCOPY text random /data/\nRUN ln -s text /data/link\n")
    assert rt("build", "-t", "gz-src", str(ctx)).returncode == 0
    archive = Path(rt.base) / "gz-src.tar"
    res = rt("save", "-o", str(archive), "gz-src")
    assert res.returncode == 0, res.stderr
    # skopeo gzips every layer on its way into the registry (Go's compress/gzip)
    res = subprocess.run(["skopeo", "copy", "--dest-compress", "--dest-tls-verify=false", f"oci-archive:{archive}",
                          f"docker://{reg.host}/gz/{tag}:1"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    manifest, m_digest = _manifest(reg.host, f"gz/{tag}", "1")
    assert manifest["layers"] and all(x["mediaType"].endswith("gzip") for x in manifest["layers"]), manifest

    state = Path(rt.base) / "gz-pulled"
    env = dict(rt.env, HOSTPREP_RUNTIME_ROOT=str(state))

    def rt2(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([rt.python, "-m", "hostprep.runtime", *args], capture_output=True, text=True,
                              env=env, timeout=300)

    ref = f"{reg.host}/gz/{tag}:1"
    res = rt2("pull", "--plain-http", ref)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == m_digest
    blobs = state / "oci" / "blobs" / "sha256"
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_bytes())
    kept = {p.name: p for p in _layers(state)}
    assert set(kept) == {x["digest"].split(":")[1] for x in manifest["layers"]}
    for layer, diff_id in zip(manifest["layers"], config["rootfs"]["diff_ids"], strict=True):
        hexd = layer["digest"].split(":")[1]
        assert (kept[hexd] / "diff_id").read_text() == diff_id and (kept[hexd] / "split").exists()
        assert not (blobs / hexd).exists() and not (blobs / diff_id.split(":")[1]).exists()  # written once
    assert not [p for p in (state / "layers").iterdir() if p.name.startswith(".")]
    res = rt2("run", "--rm", ref, "sh", "-c", "md5sum /data/text /data/random; readlink /data/link")
    assert res.returncode == 0, res.stderr
    want = subprocess.run(["md5sum", "text", "random"], cwd=ctx, capture_output=True, text=True).stdout.split()
    got = res.stdout.split()
    assert got[0::2][:2] == want[0::2] and got[-1] == "text"

    # the same registry has the compressed blobs: the pushed manifest is the one pulled
    res = rt2("push", "--plain-http", ref, f"{reg.host}/gz/{tag}-again:1")
    assert res.returncode == 0, res.stderr
    assert "Copied" not in res.stdout and _manifest(reg.host, f"gz/{tag}-again", "1")[1] == m_digest

    # another registry: the layers go uncompressed (checked against their diff_ids), the manifest says so
    res = rt2("push", "--plain-http", ref, f"{other.host}/gz/{tag}:1")
    assert res.returncode == 0, res.stderr
    pushed, p_digest = _manifest(other.host, f"gz/{tag}", "1")
    assert p_digest != m_digest and res.stdout.strip().endswith(p_digest)
    assert [x["digest"] for x in pushed["layers"]] == config["rootfs"]["diff_ids"]
    assert all(x["mediaType"] == "application/vnd.oci.image.layer.v1.tar" for x in pushed["layers"])
    assert pushed["config"] == manifest["config"]
    out = Path(rt.base) / "gz-skopeo"
    res = subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{other.host}/gz/{tag}:1",
                          f"oci:{out}:x"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr  # skopeo checks every digest it reads

    # save: the layers uncompressed, and the archive imports and runs elsewhere
    saved = Path(rt.base) / "gz-saved.tar"
    res = rt2("save", "-o", str(saved), ref)
    assert res.returncode == 0, res.stderr
    res = rt("import", str(saved), "gz-roundtrip")
    assert res.returncode == 0, res.stderr
    res = rt("run", "--rm", "gz-roundtrip", "md5sum", "/data/random")
    assert res.returncode == 0 and res.stdout.split()[0] == want[2], res.stderr


def test_gzip_layer_whose_tar_is_not_its_diff_id_is_refused(rt, registries) -> None:
    reg, _ = registries
    tag = os.path.basename(str(rt.base)).replace("_", "-").lower()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("payload")
        data = b"the real content\n" * 1000
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    blob = gzip.compress(raw)
    repo = f"bad-diff/{tag}"
    layer = _upload(reg.host, repo, blob)
    wrong = "sha256:" + hashlib.sha256(raw + b"x").hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [wrong]}}).encode()
    cfg = _upload(reg.host, repo, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg,
                                      "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer,
                                       "size": len(blob)}]}).encode()
    req = urllib.request.Request(f"http://{reg.host}/v2/{repo}/manifests/1", data=manifest, method="PUT",
                                 headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    urllib.request.urlopen(req, timeout=30).close()
    state = Path(rt.base) / "bad-diff"
    env = dict(rt.env, HOSTPREP_RUNTIME_ROOT=str(state))
    res = subprocess.run([rt.python, "-m", "hostprep.runtime", "pull", "--plain-http", f"{reg.host}/{repo}:1"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 1 and "uncompressed content" in res.stderr and wrong in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert not list((state / "layers").iterdir())  # nothing of the layer kept, not even half
    assert not [p for p in (state / "oci" / "blobs" / "sha256").iterdir() if p.name == layer.split(":")[1]]
    assert f"{reg.host}/{repo}" not in subprocess.run(
        [rt.python, "-m", "hostprep.runtime", "images"], capture_output=True, text=True, env=env).stdout
