"""testinfra checks of a host converged by roles/runtime (hostprep-runtime, hostprep's own container runtime).

Expectations (the checksum of the control node's build, the declared containers, paths) come from the
host's own variables, which `hostprep verify` resolves and hands over in $HOSTPREP_VERIFY_EXPECT under
"runtime" (see hostprep/verify/runtime_expectations.py).
"""

from __future__ import annotations

import json
import os
import shlex

import pytest


def _expect(host) -> dict:
    path = os.environ.get("HOSTPREP_VERIFY_EXPECT")
    if not path:
        raise RuntimeError("HOSTPREP_VERIFY_EXPECT is not set: run this suite through `hostprep verify`")
    with open(path, encoding="utf-8") as handle:
        table = json.load(handle)
    name = host.backend.get_hostname()
    if name not in table or "runtime" not in table[name]:
        raise RuntimeError(f"no runtime expectations for host {name!r} in {path}")
    return table[name]["runtime"]


@pytest.fixture()
def expect(host) -> dict:
    return _expect(host)


def _runtime(host, expect: dict, args: str):
    with host.sudo():
        return host.run(f"HOSTPREP_RUNTIME_ROOT={shlex.quote(expect['state_dir'])} "
                        f"{shlex.quote(expect['binary_path'])} {args}")


def test_binary_is_the_control_nodes_build(host, expect) -> None:
    binary = host.file(expect["binary_path"])
    assert binary.is_file and binary.mode == 0o755
    with host.sudo():
        assert binary.sha256sum == expect["binary_sha256"], "the host's runtime is not the control node's build"


def test_interpreter_is_python_3_6_or_newer(host, expect) -> None:
    res = host.run(f"{shlex.quote(expect['python_link'])} -c "
                   "'import sys; print(sys.version_info >= (3, 6), sys.executable)'")
    assert res.rc == 0 and res.stdout.startswith("True"), res.stdout + res.stderr


def test_kernel_modules_loaded_and_persisted(host, expect) -> None:
    if not expect["kernel_modules"]:
        return
    conf = host.file("/etc/modules-load.d/hostprep-runtime.conf")
    assert conf.is_file and conf.content_string.split() == expect["kernel_modules"]
    for module in expect["kernel_modules"]:
        assert host.file(f"/sys/module/{module}").exists, f"kernel module {module} is not loaded"


def test_state_directory_is_private(host, expect) -> None:
    with host.sudo():
        state = host.file(expect["state_dir"])
        assert state.is_directory and state.mode == 0o700 and state.user == "root"


def test_unit_is_enabled(host, expect) -> None:
    unit = host.file("/etc/systemd/system/hostprep-runtime.service")
    assert unit.is_file
    assert host.service("hostprep-runtime").is_enabled == expect["service_enabled"]


def test_declared_containers_run_with_their_declared_settings(host, expect) -> None:
    res = _runtime(host, expect, "ps -a --format json")
    assert res.rc == 0, res.stderr
    states = {s["name"]: s for s in json.loads(res.stdout)}
    for want in expect["containers"]:
        have = states.get(want["name"])
        if want["state"] == "absent":
            assert have is None, f"{want['name']} should be absent"
            continue
        if want["state"] == "stopped":
            assert have is None or have["status"] != "running", f"{want['name']} should not run"
            continue
        assert have is not None and have["status"] == "running", f"{want['name']} does not run"
        config = have["config"]
        for key in ("cmd", "env", "memory", "cpus", "pids_limit", "read_only", "volumes", "hostname", "user"):
            assert config.get(key) == want[key], (want["name"], key, config.get(key), want[key])
        _limits_in_the_kernel(host, have, want)


def _limits_in_the_kernel(host, state: dict, want: dict) -> None:
    """The declared limits are what the kernel enforces (the container's cgroup files), not only recorded."""
    cgroup = state.get("cgroup") or {}
    with host.sudo():
        if want["memory"] is not None:
            path = (cgroup["memory"] + "/memory.limit_in_bytes") if "memory" in cgroup else \
                cgroup["unified"] + "/memory.max"
            assert int(host.file(path).content_string.strip()) == want["memory"], path
        if want["pids_limit"] is not None:
            path = (cgroup["pids"] if "pids" in cgroup else cgroup["unified"]) + "/pids.max"
            assert int(host.file(path).content_string.strip()) == want["pids_limit"], path


def test_smoke_run_passes_and_leaves_nothing(host, expect) -> None:
    before = _runtime(host, expect, "ps -a --format json")
    with host.sudo():
        res = host.run(f"{shlex.quote(expect['libexec_dir'])}/smoke-test")
    assert res.rc == 0, res.stdout + res.stderr
    for check in ("pid 1", "own hostname", "no host processes", "memory limit enforced", "read-only root",
                  "clean removal"):
        assert check in res.stdout, (check, res.stdout)
    after = _runtime(host, expect, "ps -a --format json")
    assert json.loads(after.stdout) == json.loads(before.stdout)
    images = json.loads(_runtime(host, expect, "images --format json").stdout)
    assert not [i for i in images if i["name"].startswith("hostprep-smoke-")], images


COEXIST = r"""set -e
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
for f in /bin/true $(ldd /bin/true | grep -o '/[^ ]*'); do mkdir -p "$d$(dirname "$f")"; cp -L "$f" "$d$f"; done
tar -C "$d" -c . | docker import - hostprep-verify-coexist >/dev/null
docker run --rm hostprep-verify-coexist /bin/true
docker rmi hostprep-verify-coexist >/dev/null
echo coexist-ok
"""


def test_runtime_and_docker_coexist(host, expect) -> None:
    """Both answer, and `docker run` still works after the runtime ran containers (the smoke run before)."""
    assert _runtime(host, expect, "ps").rc == 0
    with host.sudo():
        assert host.run("docker info --format '{{.ServerVersion}}'").rc == 0
        res = host.run(f"sh -c {shlex.quote(COEXIST)}")
    assert res.rc == 0 and "coexist-ok" in res.stdout, res.stdout + res.stderr
