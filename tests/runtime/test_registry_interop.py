"""Interop through a real registry (docker-registry, TLS, htpasswd) both ways: an image built and pushed by
hostprep-runtime is pulled and run by podman and copied by skopeo; images built by podman and pushed in
Docker v2 schema 2 and in OCI form (gzip layers) are pulled and run by hostprep-runtime with the same config."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hostprep.runtime.store import DEFAULT_PATH
from tests.runtime.build_peer import podman_image_ids, remove_podman_images, run_podman, runtime_env
from tests.runtime.registry_support import PASSWORD, USER, Registry
from tests.runtime.support import busybox_rootfs_tar

DOCKERFILE = """FROM {base}
ENV GREETING="hello from {who}"
WORKDIR /srv
COPY note /srv/note
RUN echo "$GREETING" > /srv/greeting && chmod 0640 /srv/greeting
CMD ["sh", "-c", "cat /srv/greeting /srv/note"]
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("interop")
    reg = Registry(base / "registry")
    state = base / "state"
    renv = runtime_env(state)
    tar = busybox_rootfs_tar(base)
    before = podman_image_ids()
    prefix = f"hprt-interop-{os.getpid()}"
    made = [f"localhost/{prefix}-bb"]

    def rt(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hostprep.runtime", *args], capture_output=True, text=True,
                              env=renv, input=stdin, timeout=300)

    assert rt("import", str(tar), "bb").returncode == 0
    res = run_podman("import", "--change", 'CMD ["/bin/sh"]', "--change", "ENV PATH=" + DEFAULT_PATH, str(tar),
                     made[0])
    assert res.returncode == 0, res.stderr
    certs = state / "certs.d" / reg.host
    certs.mkdir(parents=True)
    shutil.copy(reg.certs["ca"], certs / "ca.crt")
    assert rt("login", "-u", USER, "--password-stdin", reg.host, stdin=PASSWORD + "\n").returncode == 0
    peer_opts = ["--cert-dir", str(reg.cert_dir()), "--creds", f"{USER}:{PASSWORD}"]
    yield {"reg": reg, "rt": rt, "base": base, "prefix": prefix, "made": made, "peer": peer_opts}
    remove_podman_images(made, before)
    reg.stop()


def _context(base: Path, who: str, image: str) -> Path:
    ctx = base / ("ctx-" + who)
    ctx.mkdir()
    (ctx / "note").write_text(f"note of {who}\n")
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(base=image, who=who))
    return ctx


def test_pushed_by_runtime_pulled_and_run_by_podman_copied_by_skopeo(env: dict) -> None:
    rt, reg = env["rt"], env["reg"]
    ctx = _context(env["base"], "runtime", "bb")
    assert rt("build", "-t", "interop-ours", str(ctx)).returncode == 0
    ref = f"{reg.host}/hprt/interop:ours"
    res = rt("push", "interop-ours", ref)
    assert res.returncode == 0, res.stderr
    env["made"].append(ref)
    res = run_podman("pull", *env["peer"], ref)
    assert res.returncode == 0, res.stderr
    res = run_podman("run", "--rm", "--network", "none", ref)
    assert res.returncode == 0 and res.stdout == "hello from runtime\nnote of runtime\n", res.stderr
    config = json.loads(run_podman("image", "inspect", ref).stdout)[0]["Config"]
    assert config["WorkingDir"] == "/srv" and "GREETING=hello from runtime" in config["Env"]
    res = run_podman("run", "--rm", "--network", "none", ref, "stat", "-c", "%a %u", "/srv/greeting")
    assert res.stdout == "640 0\n", res.stderr
    oci = env["base"] / "skopeo-oci"
    res = subprocess.run(["skopeo", "copy", "--src-cert-dir", env["peer"][1], "--src-creds", f"{USER}:{PASSWORD}",
                          f"docker://{ref}", f"oci:{oci}:copied"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    index = json.loads((oci / "index.json").read_text())
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "copied"


@pytest.mark.parametrize("fmt", ["v2s2", "oci"])
def test_pushed_by_podman_pulled_and_run_by_runtime(env: dict, fmt: str) -> None:
    rt, reg = env["rt"], env["reg"]
    who = "podman-" + fmt
    ctx = _context(env["base"], who, env["made"][0])
    local = f"localhost/{env['prefix']}-{fmt}"
    env["made"].append(local)
    res = run_podman("build", "--format", "docker" if fmt == "v2s2" else "oci", "--network", "none", "-t", local,
                     str(ctx))  # RUN without a network, as the runtime's (podman's default leaves cni-podman0)
    assert res.returncode == 0, res.stderr
    ref = f"{reg.host}/hprt/interop:{who}"
    res = run_podman("push", *env["peer"], "--format", fmt, local, ref)
    assert res.returncode == 0, res.stderr
    res = rt("pull", ref)
    assert res.returncode == 0, res.stderr
    out = rt("run", "--rm", ref)
    assert out.returncode == 0 and out.stdout == f"hello from {who}\nnote of {who}\n", out.stderr
    mine = json.loads(rt("image", "inspect", ref).stdout)[0]["Config"]
    peer = json.loads(run_podman("image", "inspect", local).stdout)[0]["Config"]
    for field in ("Env", "Cmd", "WorkingDir"):
        assert mine[field] == peer[field], field
    assert rt("run", "--rm", ref, "stat", "-c", "%a %u", "/srv/greeting").stdout == "640 0\n"
