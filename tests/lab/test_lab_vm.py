"""The VM backend for real: one el9 lab host booted as a QEMU VM (TCG), checked over SSH, then removed.

One boot for the whole module (about 20 s on this 2-core machine, plus a reboot): the same
inventory shape as nspawn hosts, root and deploy by key, deploy's sudo password, systemd running,
a kernel of its own, `yum install` from the lab repository with gpgcheck on, a reboot, and a
`down` that leaves no qemu process, tap link or file behind.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hostprep.lab import paths
from hostprep.lab import vm as vmmod
from hostprep.lab.api import LabHost, down, list_hosts, up
from hostprep.lab.host import HostRecord

NAME = f"vmt{os.getpid() % 100000}"


def _qemu_running(pid: int) -> bool:
    """Is `pid` still a (non-zombie) qemu process?"""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return b"qemu-system" in cmdline and state != "Z"


def ssh(host: LabHost, cmd: str, user: str = "root", stdin: str | None = None,
        timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-i", str(paths.KEY), "-o", f"UserKnownHostsFile={paths.KNOWN_HOSTS}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
         f"{user}@{host.address}", cmd],
        capture_output=True, text=True, input=stdin, timeout=timeout,
    )


@pytest.fixture(scope="module")
def booted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LabHost, Path, float]]:
    if os.geteuid() != 0:
        raise RuntimeError("VM lab tests need root: run the suite as root (scripts/test.sh)")
    for tool in ("qemu-system-x86_64", "qemu-img", "mke2fs", "depmod", "openssl"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is missing: run scripts/setup.sh (ci/apt/vm.txt)")
    inventory = tmp_path_factory.mktemp("vm") / "lab.yml"
    vmmod.prepare("el9")  # cached by ci/prep.d: not part of the boot time below
    started = time.monotonic()
    try:
        (host,) = up(1, "el9", NAME, inventory=inventory, backend="vm")
        yield host, inventory, time.monotonic() - started
    finally:
        if (paths.HOSTS / NAME).exists():
            down(names=[NAME])


def test_inventory_has_the_nspawn_shape_and_the_real_host_key(booted) -> None:
    host, inventory, boot_s = booted
    print(f"VM boot to SSH: {boot_s:.1f}s")
    assert host.backend == "vm"
    data = yaml.safe_load(inventory.read_text())
    entry = data["all"]["children"][NAME]["hosts"][NAME]
    assert entry["ansible_host"] == host.address and host.address.startswith("10.231.")
    assert entry["ansible_user"] == "root" and entry["ansible_port"] == 22
    assert entry["ansible_ssh_private_key_file"] == str(paths.KEY)
    assert "StrictHostKeyChecking=yes" in entry["ansible_ssh_common_args"]
    assert entry["lab_deploy_user"] == "deploy" and entry["lab_deploy_password"] == host.deploy_password
    assert data["all"]["children"]["el9"]["hosts"] == {NAME: None}
    assert "docker_repo_base_url" in data["all"]["vars"]
    assert f"{host.address} {host.host_key}" in paths.KNOWN_HOSTS.read_text().splitlines()
    assert [h.backend for h in list_hosts() if h.name == NAME] == ["vm"]
    # the key in known_hosts is the one the VM's sshd really serves
    scanned = subprocess.run(["ssh-keyscan", "-t", "ed25519", host.address], capture_output=True, text=True,
                             timeout=30).stdout
    assert host.host_key in scanned


def test_root_and_deploy_log_in_by_key_and_sudo_needs_the_password(booted) -> None:
    host, _, _ = booted
    assert ssh(host, "id -un").stdout.strip() == "root"
    assert ssh(host, "id -un", user="deploy").stdout.strip() == "deploy"
    assert ssh(host, "sudo -n true", user="deploy").returncode != 0
    res = ssh(host, "sudo -S -p '' id -un", user="deploy", stdin=host.deploy_password + "\n")
    assert res.stdout.strip() == "root", res.stderr
    assert ssh(host, "sudo -S -p '' id -un", user="deploy", stdin="wrong\n").returncode != 0
    res = ssh(host, "s=$(date +%s%N); sudo true; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))")
    # below one DNS timeout (5 s per try; 20 s seen), far above an emulated VM's sudo
    assert int(res.stdout.strip()) < 4000, "sudo waited: name resolution is broken in the VM"


def test_systemd_is_running_with_no_failed_units(booted) -> None:
    host, _, _ = booted
    res = ssh(host, "systemctl is-system-running --wait; systemctl --failed --no-legend | wc -l; hostname; "
                    ". /etc/os-release; echo $ID $VERSION_ID")
    assert res.stdout.splitlines() == ["running", "0", NAME, "centos 9"], res.stdout + res.stderr


def test_the_vm_runs_its_own_kernel(booted) -> None:
    host, _, _ = booted
    res = ssh(host, "cat /proc/version; uname -r; test -d /lib/modules/$(uname -r) && echo modules")
    version, release, modules = res.stdout.splitlines()
    assert version != Path("/proc/version").read_text().strip()
    assert release == vmmod.prepare("el9").kver and release != os.uname().release
    assert modules == "modules"
    # a module this kernel loads on demand, which a container could never load for itself
    res = ssh(host, "modprobe dummy && ip link add hpvmtest0 type dummy && ip -br link show hpvmtest0 && "
                    "ip link del hpvmtest0 && lsmod | grep -c '^dummy '")
    assert res.returncode == 0 and res.stdout.splitlines()[-1] == "1", res.stdout + res.stderr


def test_yum_installs_a_lab_package_with_gpgcheck_on(booted) -> None:
    host, _, _ = booted
    res = ssh(host, "grep -h '^gpgcheck' /etc/dnf/dnf.conf /etc/yum.repos.d/hostprep-lab-base.repo; "
                    "yum -y install yum-utils && rpm -q yum-utils && rpm -q gpg-pubkey", timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert lines[:2] == ["gpgcheck=1", "gpgcheck=1"]
    assert any(line.startswith("yum-utils-") and ".lab" in line for line in lines)
    assert lines[-1].startswith("gpg-pubkey-")


def test_reboot_inside_the_vm(booted) -> None:
    host, _, _ = booted
    pid = vmmod.VmInfo.load(HostRecord.load(NAME)).qemu_pid
    before = ssh(host, "cat /proc/sys/kernel/random/boot_id; touch /root/survives-reboot").stdout.strip()
    ssh(host, "systemctl reboot")
    deadline = time.monotonic() + 180
    res = None
    while time.monotonic() < deadline:
        time.sleep(2)
        res = ssh(host, "cat /proc/sys/kernel/random/boot_id; systemctl is-system-running --wait; "
                        "ls /root/survives-reboot; hostname")
        if res.returncode == 0 and res.stdout.split()[0] != before:
            break
    assert res is not None and res.returncode == 0, "the VM did not come back from the reboot"
    boot_id, state, marker, hostname = res.stdout.splitlines()
    assert boot_id != before  # a new kernel boot, not just a new systemd
    assert (state, marker, hostname) == ("running", "/root/survives-reboot", NAME)
    assert vmmod.VmInfo.load(HostRecord.load(NAME)).qemu_pid == pid  # qemu restarted the guest itself
    # the host key did not change across the reboot (the seed is applied once)
    scanned = subprocess.run(["ssh-keyscan", "-t", "ed25519", host.address], capture_output=True, text=True,
                             timeout=30).stdout
    assert host.host_key in scanned


def test_memory_of_the_vm(booted) -> None:
    kb = vmmod.memory_kb(HostRecord.load(NAME))
    print(f"VM qemu RSS: {kb / 1024:.0f} MB")
    assert 0 < kb < (vmmod.MEMORY_MB + vmmod.TB_SIZE_MB + 256) * 1024


def test_down_leaves_nothing_and_the_base_disk_is_untouched(booted) -> None:
    host, _, _ = booted
    rec = HostRecord.load(NAME)
    info = vmmod.VmInfo.load(rec)
    assert info is not None and Path(f"/sys/class/net/{info.tap}/tun_flags").exists()
    base = Path(info.base)
    base_stat = base.stat()
    assert base_stat.st_mode & 0o222 == 0  # the shared base is read-only; writes went to the overlay
    assert ssh(host, "nohup sleep 1000 >/dev/null 2>&1 & echo started").returncode == 0
    assert down(names=[NAME]) == []
    assert not _qemu_running(info.qemu_pid), f"qemu pid {info.qemu_pid} still there"
    assert not Path(f"/sys/class/net/{info.tap}").exists()
    assert not (paths.HOSTS / NAME).exists()
    assert not Path(info.disk).exists() and not Path(info.initrd).exists()
    assert f"{host.address} {host.host_key}" not in paths.KNOWN_HOSTS.read_text().splitlines()
    assert NAME not in [h.name for h in list_hosts()]
    after = base.stat()
    assert (after.st_mtime_ns, after.st_size) == (base_stat.st_mtime_ns, base_stat.st_size)
    # Nothing of the lab answers there any more. Only asked on the lab bridge: when the last lab host is
    # gone so is the bridge, and a connect would leave the machine by its default route.
    route = subprocess.run(["ip", "route", "get", host.address], capture_output=True, text=True).stdout
    if f" dev {paths.BRIDGE} " in route:
        with pytest.raises(OSError):
            socket.create_connection((host.address, 22), timeout=3).close()
    else:
        assert not Path(f"/sys/class/net/{paths.BRIDGE}").exists(), route
