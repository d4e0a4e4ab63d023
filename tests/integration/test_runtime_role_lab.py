"""roles/runtime through site.yml on an EL9 and an EL7 lab host: first apply, a no-op re-run (exit 0, at most
3 round trips), the declared container running with its limits, `hostprep verify` (docker and runtime
suites), then drift: the container removed by hand, a changed declaration (--check --diff first), a tampered
binary, an upgrade to another build with the container kept running, and a container declared absent.

One host per flavour for the whole module (module-scoped fixture), every step on the same host but the reboot:
that one is shared with this flavour's other reboot tests (RebootGroup in labutil.py; reboot_prepare is this
module's part before it: site.yml with the demo declared, on a host of its own). After the first
apply (which ships the control node's own build), the steps pin that very binary (runtime_binary_src, no build),
so that they see only the change they make."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hostprep.lab import paths
from tests.integration.labutil import RebootGroup, failures, hostprep, ssh, summary, write_inventory

ROOT = Path(__file__).resolve().parents[2]
DEMO = yaml.safe_load((ROOT / "inventories" / "runtime-demo.yml").read_text())["all"]["vars"]
SSH_OPTS = ["-i", str(paths.KEY), "-o", f"UserKnownHostsFile={paths.KNOWN_HOSTS}", "-o", "BatchMode=yes"]
RT = "HOSTPREP_RUNTIME_ROOT=/var/lib/hostprep-runtime /usr/local/bin/hostprep-runtime"


class Converged:
    """A lab host of one flavour and how to apply site.yml to it with a given declaration."""

    def __init__(self, host, tmp: Path, flavor: str = "") -> None:
        self.host = host
        self.tmp = tmp
        self.flavor = flavor
        self.pinned: dict = {}

    def inventory(self, declared: dict, extra: dict | None = None) -> Path:
        return write_inventory(self.tmp / "inv.yml", [self.host], extra={**declared, **(extra or {})})

    def apply(self, declared: dict, *args: str, extra: dict | None = None, ok_rc: tuple[int, ...] = (0, 2)):
        inv = self.inventory(declared, {**self.pinned, **(extra or {})})
        proc = hostprep("apply", "-i", str(inv), str(ROOT / "site.yml"), "--json", "--detailed-exitcode", *args,
                        cwd=ROOT)
        bad = [(f["task"], f["result"].get("msg")) for f in failures(proc)]
        assert proc.returncode in ok_rc and not bad, (proc.returncode, bad, proc.stderr[-2000:])
        return proc

    def containers(self) -> dict[str, dict]:
        res = ssh(self.host, f"{RT} ps -a --format json")
        assert res.returncode == 0, res.stderr
        return {s["name"]: s for s in json.loads(res.stdout)}

    def memory_limit(self, state: dict) -> int:
        cg = state["cgroup"]
        path = cg["memory"] + "/memory.limit_in_bytes" if "memory" in cg else cg["unified"] + "/memory.max"
        return int(ssh(self.host, f"cat {path}").stdout.strip())


@pytest.fixture(scope="module", params=["el9", "el7"])
def converged(request: pytest.FixtureRequest, lab, tmp_path_factory: pytest.TempPathFactory) -> Converged:
    flavor = request.param
    (host,) = lab.up(1, flavor, f"rtrole{flavor[-1]}")
    return Converged(host, tmp_path_factory.mktemp(f"rtrole-{flavor}"), flavor)


def _changed_tasks(proc) -> list[str]:
    out = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == "task_result" and event.get("status") == "changed":
                out.append(event["task"].split(" : ", 1)[-1])
    return out


def test_first_apply_noop_limits_and_verify(converged: Converged) -> None:
    first = converged.apply(DEMO)
    assert first.returncode == 2
    _pin(converged)
    second = converged.apply(DEMO)
    counts = summary(second)[converged.host.name]
    assert second.returncode == 0 and counts["changed"] == 0, _changed_tasks(second)
    # one round trip for facts and every probe, one for the docker role's checks, one for the runtime's
    assert counts["round_trips"] <= 3, counts
    demo = converged.containers()["demo"]
    assert demo["status"] == "running"
    assert converged.memory_limit(demo) == 64 * 1024 * 1024
    table = ssh(converged.host, f"{RT} ps").stdout
    assert "demo" in table and "running" in table
    verify = hostprep("verify", "-i", str(converged.inventory(DEMO, converged.pinned)), "-v", cwd=ROOT)
    assert verify.returncode == 0, verify.stdout[-4000:]
    assert "PASS" in verify.stdout


def _pin(converged: Converged) -> None:
    """From now on ship the binary the host got (not a new build of a checkout that may be edited meanwhile)."""
    pinned = converged.tmp / "pinned.pyz"
    with pinned.open("wb") as out:
        subprocess.run(["ssh", *SSH_OPTS, f"root@{converged.host.address}", "cat /usr/local/bin/hostprep-runtime"],
                       stdout=out, check=True)
    converged.pinned = {"runtime_build": False, "runtime_binary_src": str(pinned)}


def test_a_container_removed_by_hand_comes_back(converged: Converged) -> None:
    assert ssh(converged.host, f"{RT} rm -f demo").returncode == 0
    fixed = converged.apply(DEMO)
    assert _changed_tasks(fixed) == ["Containers in their declared state"]
    assert converged.containers()["demo"]["status"] == "running"
    assert converged.apply(DEMO).returncode == 0


def test_a_changed_declaration_recreates_only_that_container(converged: Converged) -> None:
    before = converged.containers()["demo"]
    changed = copy.deepcopy(DEMO)
    changed["runtime_containers"][0]["memory"] = "96m"
    changed["runtime_containers"].append({"name": "idle", "image": "demo-tools", "command": "/bin/sleep 100000",
                                          "pids_limit": 8})
    checked = converged.apply(changed, "--check", "--diff", ok_rc=(2,))
    assert "differs: memory" in checked.stdout and "differs: missing" in checked.stdout
    assert converged.containers()["demo"]["id"] == before["id"]
    converged.apply(changed)
    after = converged.containers()
    assert after["demo"]["id"] != before["id"] and after["demo"]["status"] == "running"
    assert converged.memory_limit(after["demo"]) == 96 * 1024 * 1024
    assert after["idle"]["status"] == "running"
    # one more change: only the container whose declaration changed is made again
    changed["runtime_containers"][1]["pids_limit"] = 9
    converged.apply(changed)
    again = converged.containers()
    assert again["demo"]["id"] == after["demo"]["id"] and again["idle"]["id"] != after["idle"]["id"]
    assert converged.apply(changed).returncode == 0
    # state: absent removes it and its boot record; the declaration as before brings demo back to 64m
    changed["runtime_containers"][1] = {"name": "idle", "state": "absent"}
    changed["runtime_containers"][0]["memory"] = "64m"
    converged.apply(changed)
    final = converged.containers()
    assert "idle" not in final and converged.memory_limit(final["demo"]) == 64 * 1024 * 1024
    assert ssh(converged.host, "test -e /etc/hostprep-runtime/containers/idle.sh").returncode == 1
    assert converged.apply(changed).returncode == 0


def test_a_tampered_binary_is_replaced_and_containers_keep_running(converged: Converged) -> None:
    before = converged.containers()["demo"]
    assert ssh(converged.host, "echo tampered >> /usr/local/bin/hostprep-runtime").returncode == 0
    fixed = converged.apply(DEMO)
    assert _changed_tasks(fixed) == ["Install /usr/local/bin/hostprep-runtime (uploaded only when its checksum "
                                     "differs)"]
    after = converged.containers()["demo"]
    assert (after["id"], after["pid"], after["status"]) == (before["id"], before["pid"], "running")


def _other_build(tmp: Path) -> Path:
    """Another build of the runtime: the same sources with a changed package docstring."""
    src = tmp / "src"
    shutil.copytree(ROOT / "hostprep" / "runtime", src / "hostprep" / "runtime",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (src / "hostprep" / "__init__.py").write_text("")
    init = src / "hostprep" / "runtime" / "__init__.py"
    init.write_text(init.read_text() + '"""another build, for the upgrade test"""\n')
    out = tmp / "other.pyz"
    subprocess.run([sys.executable, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                    "from hostprep.runtime import build; build.build(sys.argv[2], sys.argv[3])",
                    str(src), str(out), "/usr/local/libexec/hostprep-runtime/python3"], check=True)
    return out


def test_upgrade_to_another_build_keeps_the_container_running(converged: Converged) -> None:
    other = _other_build(converged.tmp)
    before = converged.containers()["demo"]
    upgraded = converged.apply(DEMO, extra={"runtime_build": False, "runtime_binary_src": str(other)})
    assert _changed_tasks(upgraded) == ["Install /usr/local/bin/hostprep-runtime (uploaded only when its "
                                        "checksum differs)"]
    sha = ssh(converged.host, "sha256sum /usr/local/bin/hostprep-runtime").stdout.split()[0]
    assert sha == hashlib.sha256(other.read_bytes()).hexdigest()
    after = converged.containers()["demo"]
    assert (after["id"], after["pid"], after["status"]) == (before["id"], before["pid"], "running")
    # the new build runs containers (the role's smoke test passed in that run) and a re-run changes nothing
    assert converged.apply(DEMO, extra={"runtime_build": False, "runtime_binary_src": str(other)}).returncode == 0
    # and back to the build it had
    back = converged.apply(DEMO)
    assert back.returncode == 2 and converged.containers()["demo"]["id"] == before["id"]


REBOOT_TEST = "test_a_reboot_brings_the_declared_container_back"
REBOOT_OWNS = {"containers": {"demo"}, "volumes": set()}


def reboot_prepare(group: RebootGroup, tmp: Path) -> Converged:
    """Before the shared reboot: site.yml with the demo's declaration applied, its container running."""
    converged = Converged(group.host, tmp)
    converged.pinned = group.pinned
    converged.apply(DEMO)
    group.pin()
    converged.pinned = group.pinned
    demo = converged.containers()["demo"]
    assert demo["status"] == "running" and converged.memory_limit(demo) == 64 * 1024 * 1024, demo
    assert ssh(group.host, "test -f /etc/hostprep-runtime/containers/demo.sh").returncode == 0  # its boot record
    return converged


@pytest.mark.timeout(1800)  # may prepare the whole reboot group (all three modules' parts) and reboot it
def test_a_reboot_brings_the_declared_container_back(converged: Converged, reboot_group) -> None:
    # the reboot is shared with this flavour's other reboot tests (RebootGroup in labutil.py): on that host
    # site.yml declared the demo (reboot_prepare), then it rebooted once
    rebooted = reboot_group(converged.flavor).before("test_runtime_role_lab")
    # hostprep-runtime.service ran the boot record: the container runs again, with its limits
    assert ssh(rebooted.host, "systemctl is-active hostprep-runtime.service").stdout.strip() == "active"
    demo = rebooted.containers()["demo"]
    assert demo["status"] == "running"
    assert rebooted.memory_limit(demo) == 64 * 1024 * 1024
    assert rebooted.apply(DEMO).returncode == 0


def test_an_image_tar_from_the_control_node_is_uploaded_once(converged: Converged) -> None:
    from tests.runtime.support import busybox_rootfs_tar

    tar = busybox_rootfs_tar(converged.tmp / "bb")
    declared = copy.deepcopy(DEMO)
    declared["runtime_images"].append({"name": "bb:1", "src": str(tar)})
    declared["runtime_containers"].append({"name": "bb", "image": "bb:1", "command": ["sleep", "100000"],
                                           "memory": "32m"})
    first = converged.apply(declared)
    assert _changed_tasks(first) == ["Images in the host's store", "Containers in their declared state"]
    assert converged.containers()["bb"]["status"] == "running"
    assert ssh(converged.host, "ls /var/lib/hostprep-runtime/hostprep-imports/").stdout.split() == [
        "bb%3A1.json", "demo-tools%3Alatest.json"]  # the upload itself is gone
    assert converged.apply(declared).returncode == 0
    declared["runtime_containers"][-1]["state"] = "absent"
    declared["runtime_images"][-1]["state"] = "absent"
    converged.apply(declared)
    assert "bb" not in converged.containers()
    images = json.loads(ssh(converged.host, f"{RT} images --format json").stdout)
    assert [i["name"] for i in images] == ["demo-tools:latest"]
