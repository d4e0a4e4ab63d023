"""hostprep.runtime.image and hostprep.runtime.container plan from probe output captured on an EL9 lab host
converged by site.yml with inventories/runtime-demo.yml (image demo-tools from the host, container demo)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from hostprep.errors import ModuleArgError
from hostprep.modules import get_module
from hostprep.modules._runtime import listing_probe, parse_view
from hostprep.modules.base import Command, ProbeResult, TaskContext, Upload
from hostprep.runtime.registry import DEFAULT_REGISTRY

CAPTURED = (Path(__file__).parent / "data" / "runtime_probe_el9.txt").read_text()
DEMO = {"name": "demo", "image": "demo-tools",
        "command": ["/bin/sh", "-c", "cat /etc/demo/demo.conf; exec /bin/sleep 2147483647"],
        "env": {"DEMO_MODE": "lab"}, "hostname": "demo", "memory": "64m", "cpus": 0.5, "pids_limit": 32,
        "read_only": True, "volumes": ["/etc/hostprep-demo:/etc/demo:ro"]}
TOOLS = {"name": "demo-tools", "paths": ["/bin/sh", "/bin/cat", "/bin/sleep"]}


def plan(module: str, raw: dict, stdout: str = CAPTURED, check: bool = False, tmp: Path | None = None):
    mod = get_module(module)()
    args = mod.validate(raw)
    ctx = TaskContext(transport=None, host="h", check_mode=check,  # type: ignore[arg-type]
                      find_file=(lambda name, kind: (tmp or Path(".")) / name))
    return mod.plan(args, ProbeResult(0, stdout), ctx)


def edited(**changes) -> str:
    """The captured output with the demo container's recorded state changed."""
    head, _, rest = CAPTURED.partition("@@hostprep:ps@@\n")
    ps, _, tail = rest.partition("\n@@hostprep:images@@")
    states = json.loads(ps)
    for state in states:
        if state["name"] == "demo":
            for key, value in changes.items():
                if key in state.get("config", {}):
                    state["config"][key] = value
                else:
                    state[key] = value
    return head + "@@hostprep:ps@@\n" + json.dumps(states) + "\n@@hostprep:images@@" + tail


def test_the_captured_probe_reads_as_the_runtime_state() -> None:
    view = parse_view(CAPTURED)
    assert view.installed and not view.error
    assert view.container("demo")["status"] == "running"
    assert view.images["demo-tools:latest"]["id"].startswith("sha256:")
    assert view.imports["demo-tools:latest"]["paths"] == TOOLS["paths"]
    assert "demo.sh" in view.boot and "run -d --name demo" in view.boot["demo.sh"]


def test_the_probe_is_one_read_shared_by_every_task_of_a_batch() -> None:
    image = get_module("hostprep.runtime.image")()
    container = get_module("hostprep.runtime.container")()
    probes = {image.probe(image.validate(TOOLS)), container.probe(container.validate(DEMO)),
              container.probe(container.validate({**DEMO, "name": "other"}))}
    assert len(probes) == 1
    assert probes == {listing_probe("/usr/local/bin/hostprep-runtime", "/var/lib/hostprep-runtime",
                                    "/etc/hostprep-runtime/containers")}


def test_a_converged_container_and_image_need_nothing() -> None:
    assert plan("hostprep.runtime.container", DEMO).changed is False
    assert plan("hostprep.runtime.image", TOOLS).changed is False


@pytest.mark.parametrize(("change", "differs"), [
    ({"memory": "128m"}, ["memory"]),
    ({"cpus": 1}, ["cpus"]),
    ({"pids_limit": 64, "read_only": False}, ["pids_limit", "read_only"]),
    ({"env": {"DEMO_MODE": "prod"}}, ["env"]),
    ({"command": "sleep 5"}, ["cmd"]),
    ({"volumes": []}, ["volumes"]),
    ({"user": "65534"}, ["user"]),
])
def test_a_changed_declaration_recreates_the_container_and_the_diff_names_what(change, differs) -> None:
    p = plan("hostprep.runtime.container", {**DEMO, **change})
    assert p.changed
    assert p.result["differs"][:len(differs)] == differs
    commands = [s.cmd for s in p.steps if isinstance(s, Command)]
    assert "rm -f demo >/dev/null" in commands[0] and " run -d --name demo " in commands[1]
    assert any(isinstance(s, Upload) and s.dest == "/etc/hostprep-runtime/containers/demo.sh" for s in p.steps)
    assert "differs: " + ", ".join(differs) in p.diff["after"]
    assert "memory: 67108864" in p.diff["before"]


def test_memory_is_compared_in_bytes() -> None:
    same = plan("hostprep.runtime.container", {**DEMO, "memory": "65536k"})
    # the running container is kept; only its boot record is written with the new spelling
    assert same.result["differs"] == ["boot record"]
    assert not any(isinstance(s, Command) and " run -d " in s.cmd for s in same.steps)
    with pytest.raises(ModuleArgError):
        plan("hostprep.runtime.container", {**DEMO, "memory": "lots"})


def test_a_container_removed_by_hand_or_exited_is_started_again() -> None:
    stdout = CAPTURED.replace('"name": "demo"', '"name": "gone"')
    p = plan("hostprep.runtime.container", DEMO, stdout=stdout)
    assert p.changed and p.result["differs"] == ["missing"]
    assert [s.cmd for s in p.steps if isinstance(s, Command)][0].endswith(">/dev/null")
    assert " rm -f " not in p.steps[0].cmd
    exited = plan("hostprep.runtime.container", DEMO, stdout=edited(status="exited"))
    assert exited.changed and exited.result["differs"] == ["status (exited)"]


def test_a_new_image_under_the_same_name_recreates_the_container() -> None:
    p = plan("hostprep.runtime.container", DEMO, stdout=edited(image_id="sha256:" + "0" * 64))
    assert p.changed and p.result["differs"] == ["image_id"]


def test_absent_and_stopped() -> None:
    gone = plan("hostprep.runtime.container", {"name": "demo", "state": "absent"})
    assert [s.cmd for s in gone.steps] == [
        "HOSTPREP_RUNTIME_ROOT=/var/lib/hostprep-runtime /usr/local/bin/hostprep-runtime rm -f demo",
        "rm -f /etc/hostprep-runtime/containers/demo.sh"]
    assert plan("hostprep.runtime.container", {"name": "nothere", "state": "absent"}).changed is False
    stopped = plan("hostprep.runtime.container", {"name": "demo", "state": "stopped", "stop_timeout": 3})
    assert stopped.steps[0].cmd.endswith("stop -t 3 demo")
    assert plan("hostprep.runtime.container", {"name": "demo", "state": "stopped"},
                stdout=edited(status="exited")).steps == [Command("rm -f /etc/hostprep-runtime/containers/demo.sh")]


def test_missing_image_or_runtime_is_a_clear_failure() -> None:
    p = plan("hostprep.runtime.container", {**DEMO, "image": "nope"})
    assert p.failed and "image nope:latest is not in the host's store" in p.msg
    missing = "@@hostprep:missing@@\n@@hostprep:imports@@\n@@hostprep:boot@@\n"
    p = plan("hostprep.runtime.container", DEMO, stdout=missing)
    assert p.failed and "is not installed" in p.msg
    # in check mode before the role installed the binary: it would be made
    assert plan("hostprep.runtime.container", DEMO, stdout=missing, check=True).changed


def test_image_from_host_paths_changed_or_retagged() -> None:
    p = plan("hostprep.runtime.image", {**TOOLS, "paths": ["/bin/sh"]})
    assert p.changed and "differs: paths" in p.diff["after"]
    assert "image from-host demo-tools:latest /bin/sh" in p.steps[-1].cmd
    digest = json.loads(CAPTURED.split("@@hostprep:images@@\n", 1)[1].splitlines()[0])[0]["digest"]
    retagged = CAPTURED.replace(f'"digest": "{digest}', '"digest": "sha256:' + "a" * 64, 1)
    assert retagged != CAPTURED
    p = plan("hostprep.runtime.image", TOOLS, stdout=retagged)
    assert p.changed and "another image" in p.diff["after"]


def test_image_from_a_tar_is_uploaded_only_when_its_digest_is_not_on_the_host(tmp_path: Path) -> None:
    tar = tmp_path / "app.tar"
    tar.write_bytes(b"not really a tar, the host imports it")
    digest = "sha256:" + hashlib.sha256(tar.read_bytes()).hexdigest()
    p = plan("hostprep.runtime.image", {"name": "app:1", "src": "app.tar"}, tmp=tmp_path)
    assert p.changed and p.result["sha256"] == digest
    upload = next(s for s in p.steps if isinstance(s, Upload))
    assert upload.data == tar.read_bytes() and upload.dest.startswith("/var/lib/hostprep-runtime/hostprep-imports/")
    assert " import " in p.steps[-1].cmd and "app%3A1.json" in p.steps[-1].cmd
    record = {"name": "app:1", "source": "file", "sha256": digest, "digest": "sha256:" + "1" * 64}
    image = {"name": "app:1", "digest": "sha256:" + "1" * 64, "id": "sha256:" + "2" * 64}
    stdout = (CAPTURED.replace('@@hostprep:images@@\n[', "@@hostprep:images@@\n[" + json.dumps(image) + ", ")
              .replace("@@hostprep:imports@@\n", "@@hostprep:imports@@\n" + json.dumps(record) + "\n"))
    assert plan("hostprep.runtime.image", {"name": "app:1", "src": "app.tar"}, stdout=stdout, tmp=tmp_path).changed \
        is False
    tar.write_bytes(b"a new build")
    again = plan("hostprep.runtime.image", {"name": "app:1", "src": "app.tar"}, stdout=stdout, tmp=tmp_path)
    assert again.changed and "sha256" in again.diff["after"]


def test_registry_images_are_pulled_once_under_the_name_the_pull_stores(tmp_path: Path) -> None:
    p = plan("hostprep.runtime.image", {"name": "registry.example.com:5000/team/app:1", "plain_http": True})
    assert p.changed and p.result["name"] == "registry.example.com:5000/team/app:1"
    (cmd,) = [s.cmd for s in p.steps]
    assert " pull --plain-http registry.example.com:5000/team/app:1 " in cmd
    # the command's record, run against a stand-in runtime that prints what `pull` prints
    fake = tmp_path / "hostprep-runtime"
    fake.write_text("#!/bin/sh\necho 'Copying blob sha256:1234'\necho sha256:" + "ab" * 32 + "\n")
    fake.chmod(0o755)
    local = cmd.replace("/usr/local/bin/hostprep-runtime", str(fake)).replace("/var/lib/hostprep-runtime",
                                                                                  str(tmp_path / "state"))
    subprocess.run(["sh", "-c", local], check=True)
    (record,) = (tmp_path / "state" / "hostprep-imports").iterdir()
    assert json.loads(record.read_text()) == {"name": "registry.example.com:5000/team/app:1", "source": "registry",
                                              "ref": "registry.example.com:5000/team/app:1",
                                              "digest": "sha256:" + "ab" * 32}
    # docker.io short names are stored in full; present means no pull (a moving tag is not followed)
    short = plan("hostprep.runtime.image", {"name": "busybox", "source": "registry"})
    assert short.result["name"] == f"{DEFAULT_REGISTRY}/library/busybox:latest"
    image = {"name": f"{DEFAULT_REGISTRY}/library/busybox:latest", "digest": "sha256:" + "1" * 64,
             "id": "sha256:" + "2" * 64}
    stdout = CAPTURED.replace("@@hostprep:images@@\n[", "@@hostprep:images@@\n[" + json.dumps(image) + ", ")
    assert plan("hostprep.runtime.image", {"name": "busybox", "source": "registry"}, stdout=stdout).changed is False
    # and a container names it as the user wrote it
    assert plan("hostprep.runtime.container", {"name": "bb", "image": "busybox"}, stdout=stdout).result[
        "config"]["image_id"] == "sha256:" + "2" * 64
    bad = plan("hostprep.runtime.image", {"name": "Bad/Name", "source": "registry"})
    assert bad.failed and "lowercase" in bad.msg
    gone = plan("hostprep.runtime.image", {"name": "demo-tools", "state": "absent"})
    assert gone.changed and gone.steps[0].cmd.endswith("rmi demo-tools:latest")
