"""pull, push, login and logout against a real registry (docker-registry, TLS from a CA of the test's, htpasswd
auth), under the control node's Python, 3.9 and 3.6 (the `rt` fixture): credentials checked and kept 0600 and
never shown, TLS verified against certs.d, a corrupt blob refused, chunked uploads and cross-repository mounts,
plain HTTP only when asked."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from tests.runtime.registry_support import PASSWORD, USER, Registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory):
    reg = Registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


@pytest.fixture
def image(rt) -> str:
    """An image built here (again, from cache, for each test): a file of its own on busybox."""
    ctx = Path(rt.base) / "push-ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "msg").write_text("pushed by hostprep-runtime\n")
    (ctx / "Dockerfile").write_text('FROM bb\nCOPY msg /msg\nRUN echo built > /built\nCMD ["cat", "/msg"]\n')
    res = rt("build", "-t", "to-push", str(ctx))
    assert res.returncode == 0, res.stderr
    return "to-push"


def _trust(rt, registry) -> None:
    d = Path(rt.state) / "certs.d" / registry.host
    d.mkdir(parents=True, exist_ok=True)
    shutil.copy(registry.certs["ca"], d / "ca.crt")


def _untrust(rt, registry) -> None:
    shutil.rmtree(Path(rt.state) / "certs.d" / registry.host, ignore_errors=True)


def test_tls_is_verified_against_certs_d(rt, registry) -> None:
    _untrust(rt, registry)
    res = rt.input(PASSWORD + "\n", "login", "-u", USER, "--password-stdin", registry.host)
    assert res.returncode == 1 and "TLS verification failed" in res.stderr and "certs.d" in res.stderr
    assert "Traceback" not in res.stderr
    _trust(rt, registry)
    res = rt.input(PASSWORD + "\n", "login", "-u", USER, "--password-stdin", registry.host)
    assert res.returncode == 0, res.stderr


def test_login_checks_stores_0600_and_never_shows_the_password(rt, registry) -> None:
    _trust(rt, registry)
    auth_file = Path(rt.state) / "auth.json"
    rt("logout", registry.host)
    res = rt.input("wrong\n", "login", "-u", USER, "--password-stdin", registry.host)
    assert res.returncode == 1 and "401" in res.stderr and "wrong" not in res.stderr + res.stdout
    assert not auth_file.exists() or registry.host not in auth_file.read_text()
    res = rt.input(PASSWORD + "\n", "login", "-u", USER, "--password-stdin", registry.host)
    assert res.returncode == 0 and res.stdout.strip() == "Login Succeeded", res.stderr
    assert PASSWORD not in res.stdout + res.stderr
    assert stat.S_IMODE(auth_file.stat().st_mode) == 0o600
    entry = json.loads(auth_file.read_text())["auths"][registry.host]["auth"]
    assert base64.b64decode(entry).decode() == f"{USER}:{PASSWORD}"
    res = rt("logout", registry.host)
    assert res.returncode == 0 and registry.host not in auth_file.read_text()
    res = rt("pull", f"{registry.host}/nothing/here:1")
    assert res.returncode == 1 and "asks for a login" in res.stderr


def test_push_pull_run_and_mount(rt, registry, image: str) -> None:
    _trust(rt, registry)
    assert rt.input(PASSWORD + "\n", "login", "-u", USER, "--password-stdin", registry.host).returncode == 0
    first = f"{registry.host}/hprt/one:v1"
    res = rt("push", image, first)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("Copied blob") == 4  # config, busybox, COPY, RUN
    res = rt("push", image, first)
    assert res.stdout.count("Skipped (exists)") == 4, res.stdout
    res = rt("push", image, f"{registry.host}/hprt/two:v1")  # another repository of the same registry
    assert res.returncode == 0 and res.stdout.count("Mounted blob") == 4, res.stdout + res.stderr
    local = json.loads(rt("images", "--format", "json").stdout)
    pushed_digest = [i["digest"] for i in local if i["name"] == "to-push:latest"][0]
    assert rt("rmi", image).returncode == 0
    res = rt("pull", first)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == pushed_digest  # the same manifest, byte for byte
    out = rt("run", "--rm", first)
    assert out.stdout == "pushed by hostprep-runtime\n", out.stderr
    assert rt("run", "--rm", first, "cat", "/built").stdout == "built\n"


def test_chunked_upload(rt, registry) -> None:
    """Blobs larger than the chunk size go up as PATCH chunks and one closing PUT (in-process, small chunks)."""
    from hostprep.runtime import registry as reg
    from hostprep.runtime.store import Store

    _trust(rt, registry)
    assert rt.input(PASSWORD + "\n", "login", "-u", USER, "--password-stdin", registry.host).returncode == 0
    ctx = Path(rt.base) / f"chunk-ctx-{os.getpid()}"
    ctx.mkdir(exist_ok=True)
    (ctx / "big").write_bytes(os.urandom(300 * 1024))  # a layer no registry has: uploaded, in 5 chunks
    (ctx / "Dockerfile").write_text("FROM bb\nCOPY big /big\n")
    assert rt("build", "-t", "chunky", str(ctx)).returncode == 0
    store = Store(str(rt.state))
    log = []

    class Out:
        def write(self, text: str) -> None:
            log.append(text)

        def flush(self) -> None:
            pass

    digest = reg.push(store, str(rt.state), "chunky", f"{registry.host}/hprt/chunked-{os.getpid()}:c",
                      chunk=64 * 1024, out=Out())
    assert "".join(log).count("Copied blob") == 2, log  # the config and the new layer
    assert rt("rmi", "chunky").returncode == 0
    res = rt("pull", f"{registry.host}/hprt/chunked-{os.getpid()}:c")
    assert res.returncode == 0 and res.stdout.strip().splitlines()[-1] == digest, res.stderr


def test_corrupt_blob_is_refused_and_nothing_named(rt, registry, image: str) -> None:
    _trust(rt, registry)
    assert rt.input(PASSWORD + "\n", "login", "-u", USER, "--password-stdin", registry.host).returncode == 0
    ref = f"{registry.host}/hprt/corrupt:x"
    assert rt("push", image, ref).returncode == 0
    manifest, _ = _manifest(rt, image)
    layer = manifest["layers"][-1]["digest"].split(":")[1]
    data = registry.base / "data" / "docker/registry/v2/blobs/sha256" / layer[:2] / layer / "data"
    before = data.read_bytes()
    data.write_bytes(before[:-1] + bytes([before[-1] ^ 1]))  # one bit of the layer on the registry's disk
    try:
        assert rt("rmi", image).returncode == 0
        shutil.rmtree(Path(rt.state) / "layers" / layer, ignore_errors=True)
        blob = Path(rt.state) / "oci/blobs/sha256" / layer
        blob.unlink()  # kept by the build cache: gone as on a host that never had it
        res = rt("pull", ref)
        assert res.returncode == 1 and "refused" in res.stderr and "Traceback" not in res.stderr
        assert ref not in rt("images").stdout
        assert not blob.exists() and not list((Path(rt.state) / "oci/blobs/sha256").glob(".pull-*"))
    finally:
        data.write_bytes(before)


def _manifest(rt, ref: str):
    from hostprep.runtime.store import Store

    return Store(str(rt.state)).resolve(ref)


def test_plain_http_only_when_asked(rt, tmp_path_factory: pytest.TempPathFactory, image: str) -> None:
    plain = Registry(tmp_path_factory.mktemp("plain-registry"), tls=False, auth=False)
    try:
        ref = f"{plain.host}/hprt/plain:1"
        res = rt("push", image, ref)
        assert res.returncode == 1 and "Traceback" not in res.stderr
        res = rt("push", "--plain-http", image, ref)
        assert res.returncode == 0, res.stderr
        res = rt("pull", "--plain-http", ref)
        assert res.returncode == 0, res.stderr
    finally:
        plain.stop()
