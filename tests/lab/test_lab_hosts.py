"""Lab hosts for real: boot each flavour, log in by key, systemd state, sudo, reboot, clean removal."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

from hostprep.lab import cgroups, paths
from hostprep.lab.api import down, up


def ssh(host, cmd: str, user: str = "root", stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-i", str(paths.KEY), "-o", f"UserKnownHostsFile={paths.KNOWN_HOSTS}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", f"{user}@{host.address}", cmd],
        capture_output=True, text=True, input=stdin, timeout=60,
    )


@pytest.mark.parametrize("flavor,major,pretty", [("el7", "7", "CentOS Linux"), ("el8", "8", "CentOS Stream"),
                                                  ("el9", "9", "CentOS Stream")])
def test_flavour_boots_and_presents_as_el(lab, flavor: str, major: str, pretty: str) -> None:
    (h,) = lab.up(1, flavor, f"boot{major}")
    res = ssh(h, "systemctl is-system-running; systemctl --failed --no-legend | wc -l; . /etc/os-release; "
                 "echo $ID $VERSION_ID; echo $ID_LIKE; echo $PRETTY_NAME; cat /etc/dnf/vars/releasever; hostname")
    lines = res.stdout.splitlines()
    assert res.returncode == 0, res.stderr
    assert lines[0] == "running"
    assert lines[1] == "0"
    assert lines[2] == f"centos {major}"
    assert lines[3] == "rhel centos fedora"
    assert pretty in lines[4] and "hostprep lab emulation" in lines[4]
    assert lines[5] == major
    assert lines[6] == h.name
    # yum-config-manager comes with yum-utils, which a minimal EL7 lacks (the docker guide installs it)
    assert ssh(h, "command -v yum-config-manager").returncode != 0
    assert ssh(h, "command -v yum && command -v dnf && command -v rpm").returncode == 0


def test_root_and_deploy_log_in_by_key_and_deploy_sudo_needs_password(lab) -> None:
    (h,) = lab.up(1, "el9", "login")
    assert ssh(h, "id -un").stdout.strip() == "root"
    assert ssh(h, "id -un", user="deploy").stdout.strip() == "deploy"
    assert ssh(h, "sudo -n true", user="deploy").returncode != 0
    res = ssh(h, "sudo -S -p '' id -un", user="deploy", stdin=h.deploy_password + "\n")
    assert res.stdout.strip() == "root", res.stderr
    wrong = ssh(h, "sudo -S -p '' id -un", user="deploy", stdin="wrong\n")
    assert wrong.returncode != 0


def test_unknown_key_refused_by_strict_ssh(lab, tmp_path: Path) -> None:
    (h,) = lab.up(1, "el9", "login")
    empty = tmp_path / "kh"
    empty.write_text("")
    res = subprocess.run(["ssh", "-i", str(paths.KEY), "-o", f"UserKnownHostsFile={empty}",
                          "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", f"root@{h.address}", "true"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 255
    assert "Host key verification failed" in res.stderr


def test_sudo_is_fast_no_dns_wait(lab) -> None:
    """sudo resolves the host's own name: with a broken resolver that is a DNS timeout of 5 s or more per try
    (20 s seen). The bound sits below one timeout and far above a loaded machine's sudo (milliseconds)."""
    (h,) = lab.up(1, "el9", "login")
    res = ssh(h, "s=$(date +%s%N); sudo true; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))")
    assert int(res.stdout.strip()) < 4000, "sudo waited: name resolution is broken in the image"


def test_each_host_has_its_own_host_key(lab) -> None:
    hosts = lab.up(2, "el9", "keys")
    keys = {h.host_key for h in hosts}
    assert len(keys) == 2
    known = paths.KNOWN_HOSTS.read_text()
    for h in hosts:
        assert f"{h.address} {h.host_key}" in known


BOOT_ID = "cat /proc/sys/kernel/random/boot_id"


def test_reboot_inside_a_host(lab) -> None:
    """The kernel is shared, but systemd-nspawn gives each boot of a host a boot id of its own: the ids differ
    between hosts and from the machine's, and a reboot changes the rebooted host's (and only its)."""
    h, neighbour = lab.up(2, "el9", "reboot")
    boot_id = ssh(h, BOOT_ID).stdout.strip()
    other_id = ssh(neighbour, BOOT_ID).stdout.strip()
    machine_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert len({boot_id, other_id, machine_id}) == 3 and len(boot_id) == 36, (boot_id, other_id, machine_id)
    marker = ssh(h, "systemctl show -p ActiveEnterTimestampMonotonic --value multi-user.target").stdout.strip()
    ssh(h, "systemctl reboot")
    deadline = time.monotonic() + 120
    after = ""
    while time.monotonic() < deadline:
        res = ssh(h, "systemctl is-system-running; systemctl show -p ActiveEnterTimestampMonotonic "
                     "--value multi-user.target")
        if res.returncode == 0 and res.stdout.startswith("running"):
            after = res.stdout.split()[-1]
            if after != marker:
                break
        time.sleep(0.5)  # polling for the host to be back; each try is itself an ssh attempt
    assert after and after != marker, "the host did not come back from the reboot"
    new_id = ssh(h, BOOT_ID).stdout.strip()
    assert len(new_id) == 36 and new_id not in (boot_id, other_id, machine_id), (boot_id, new_id)
    assert ssh(neighbour, BOOT_ID).stdout.strip() == other_id
    boots = (paths.HOSTS / h.name / "boots").read_text().splitlines()
    assert len(boots) == 1


def test_inventory_written_and_down_leaves_nothing(tmp_path: Path) -> None:
    inv = tmp_path / "lab.yml"
    hosts = up(2, "el9", "ptdown", inventory=inv)
    data = yaml.safe_load(inv.read_text())
    group = data["all"]["children"]["ptdown"]["hosts"]
    assert sorted(group) == ["ptdown-1", "ptdown-2"]
    assert group["ptdown-1"]["ansible_host"] == hosts[0].address
    assert data["all"]["children"]["el9"]["hosts"] == {"ptdown-1": None, "ptdown-2": None}
    from hostprep.lab.host import HostRecord

    recs = [(h.name, h.address) for h in hosts]
    veths = [HostRecord.load(h.name).veth for h in hosts]
    assert all(Path(f"/sys/class/net/{v}").exists() for v in veths)
    # a process inside the host, to be sure down kills what runs there
    assert ssh(hosts[0], "nohup sleep 1000 >/dev/null 2>&1 &").returncode == 0
    left = down(name="ptdown")
    assert left == []
    for name, _address in recs:
        assert not (paths.HOSTS / name).exists()
        assert not Path(f"/run/netns/{paths.NETNS_PREFIX}{name}").exists()
        for cg in cgroups.host_cgroups(name):
            assert not cg.exists(), cg
        mounts = Path("/proc/self/mountinfo").read_text()
        assert str(paths.HOSTS / name) not in mounts
    for veth in veths:
        assert not Path(f"/sys/class/net/{veth}").exists(), veth
