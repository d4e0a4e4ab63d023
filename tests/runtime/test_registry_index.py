"""Image indexes: a tag naming an OCI image index (several platforms) is pulled as this host's platform's image,
and an index without it is refused naming what it has — against docker-registry with TLS and htpasswd auth."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hostprep.runtime import registry as reg
from hostprep.runtime.store import Store
from tests.runtime.registry_support import PASSWORD, USER, Registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory):
    r = Registry(tmp_path_factory.mktemp("index-registry"))
    yield r
    r.stop()


def _index(entries: list[tuple[str, int, str]]) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": reg.MT_OCI_INDEX, "manifests": [
        {"mediaType": reg.MT_OCI_MANIFEST, "digest": digest, "size": size,
         "platform": {"os": "linux", "architecture": arch}} for digest, size, arch in entries]}).encode()


def test_index_resolves_to_this_platform(rt, registry) -> None:
    certs = Path(rt.state) / "certs.d" / registry.host
    certs.mkdir(parents=True, exist_ok=True)
    shutil.copy(registry.certs["ca"], certs / "ca.crt")
    assert rt.input(PASSWORD + "\n", "login", "-u", USER, "--password-stdin", registry.host).returncode == 0
    ctx = Path(rt.base) / "index-ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text('FROM bb\nRUN echo "$(uname -m)" > /arch\nCMD ["cat", "/arch"]\n')
    assert rt("build", "-t", "index-img", str(ctx)).returncode == 0
    repo = "hprt/multi"
    assert rt("push", "index-img", f"{registry.host}/{repo}:amd").returncode == 0
    store = Store(str(rt.state))
    digest = store.lookup("index-img")
    size = len(Path(store.blob_path(digest)).read_bytes())
    client = reg.Client(str(rt.state), registry.host)
    _, arch = reg.host_platform()
    other = "arm64" if arch != "arm64" else "amd64"
    client.put_manifest(repo, "multi", _index([(digest, size, other), (digest, size, arch)]), reg.MT_OCI_INDEX)
    client.put_manifest(repo, "foreign", _index([(digest, size, other)]), reg.MT_OCI_INDEX)
    assert rt("rmi", "index-img").returncode == 0
    res = rt("pull", f"{registry.host}/{repo}:multi")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == digest  # the platform's manifest, stored under the index's tag
    assert rt("run", "--rm", f"{registry.host}/{repo}:multi").returncode == 0
    res = rt("pull", f"{registry.host}/{repo}:foreign")
    assert res.returncode == 1 and f"no image for linux/{arch}" in res.stderr and f"linux/{other}" in res.stderr
