"""`hostprep-runtime build` against `podman build` (buildah, --format docker) on a corpus of Dockerfiles
(build_cases.py): the same file tree (types, modes, owners, contents, link targets) and the same config fields
(Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes, Labels, StopSignal, Healthcheck, Shell, Author).

Not compared, and why: directory and file times (each tool's own clock); buildah's leftovers after a RUN (empty
/etc/hosts, /etc/hostname, /etc/resolv.conf and /dev, /proc, /sys, /run mount points, which Docker does not
leave either) and its io.buildah.version label; the root directory's own mode.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hostprep.runtime.store import DEFAULT_PATH
from tests.runtime.build_cases import CASES
from tests.runtime.build_peer import (
    make_context,
    normalized_config,
    our_tree,
    peer_tree,
    podman_image_ids,
    remove_podman_images,
    run_podman,
    runtime_env,
    without_peer_mounts,
)
from tests.runtime.support import busybox_rootfs_tar


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("oracle")
    tar = busybox_rootfs_tar(base)
    state = base / "state"
    env = runtime_env(state)
    res = subprocess.run([sys.executable, "-m", "hostprep.runtime", "import", str(tar), "bb"], capture_output=True,
                         text=True, env=env)
    assert res.returncode == 0, res.stderr
    before = podman_image_ids()
    prefix = f"hprt-{os.getpid()}"
    podman_base = f"localhost/{prefix}-bb"
    # the config the runtime's import gives a rootfs tar: a default command and PATH
    res = run_podman("import", "--change", 'CMD ["/bin/sh"]', "--change", "ENV PATH=" + DEFAULT_PATH, str(tar),
                     podman_base)
    assert res.returncode == 0, res.stderr
    made = [podman_base]
    yield {"base": base, "state": state, "env": env, "prefix": prefix, "podman_base": podman_base, "made": made}
    remove_podman_images(made, before)


def _build_both(peers: dict, name: str, case: dict):
    ctx = make_context(peers["base"] / ("ctx-" + name), case)
    dockerfile = case["Dockerfile"]
    ours_file = ctx / "Dockerfile.hprt"
    theirs_file = ctx / "Dockerfile.podman"
    ours_file.write_text(dockerfile.replace("BASE", "bb"))
    theirs_file.write_text(dockerfile.replace("BASE", peers["podman_base"]))
    extra = []
    for arg in case.get("args") or []:
        extra += ["--build-arg", arg]
    if case.get("target"):
        extra += ["--target", case["target"]]
    ours_ref = "case-" + name.replace("_", "-")
    res = subprocess.run([sys.executable, "-m", "hostprep.runtime", "build", "-t", ours_ref, "-f", str(ours_file),
                          *extra, str(ctx)], capture_output=True, text=True, env=peers["env"], timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    theirs_ref = "localhost/{}-{}".format(peers["prefix"], name.replace("_", "-"))
    peers["made"].append(theirs_ref)
    # RUN without a network on both sides (hostprep's default): podman's own default would also leave its
    # cni-podman0 bridge on the machine
    res = run_podman("build", "--format", "docker", "--network", "none", "-t", theirs_ref, "-f", str(theirs_file),
                     *extra, str(ctx))
    assert res.returncode == 0, res.stdout + res.stderr
    return ours_ref, theirs_ref


@pytest.mark.parametrize("name", sorted(CASES))
def test_build_matches_podman(peers: dict, name: str) -> None:
    case = CASES[name]
    ours_ref, theirs_ref = _build_both(peers, name, case)
    ours = our_tree(peers["state"], ours_ref, peers["base"])
    theirs = without_peer_mounts(peer_tree(theirs_ref), ours)
    only_ours = {k: v for k, v in ours.items() if k not in theirs}
    only_theirs = {k: v for k, v in theirs.items() if k not in ours}
    differ = {k: (ours[k], theirs[k]) for k in ours if k in theirs and ours[k] != theirs[k]}
    assert (only_ours, only_theirs, differ) == ({}, {}, {})
    res = subprocess.run([sys.executable, "-m", "hostprep.runtime", "image", "inspect", ours_ref],
                         capture_output=True, text=True, env=peers["env"])
    assert res.returncode == 0, res.stderr
    mine = json.loads(res.stdout)[0]
    res = run_podman("image", "inspect", theirs_ref)
    assert res.returncode == 0, res.stderr
    peer = json.loads(res.stdout)[0]
    peer_config = dict(peer["Config"], Healthcheck=peer.get("Healthcheck"))  # podman shows it beside Config
    deviations = case.get("deviations") or {}
    for field, (docker_value, podman_value) in deviations.items():
        assert (mine["Config"].get(field), peer_config.get(field)) == (docker_value, podman_value), field
    skip = tuple(deviations)
    assert normalized_config(mine["Config"], skip) == normalized_config(peer_config, skip)
    assert (mine.get("Author") or None) == (peer.get("Author") or None)
