"""The system modules on real lab hosts over SSH: each one in check mode (the host stays exactly as it
was), then for real (changed), then again (ok). Results are checked with a separate ssh client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hostprep.lab.api import lab_vars
from hostprep.modules import get_module
from hostprep.modules.base import TaskContext
from hostprep.transport.connect import open_transport
from tests.integration.labutil import make_wheel, snapshot, ssh

UNIT = """[Unit]
Description=hostprep test sleeper

[Service]
ExecStart=/bin/sleep infinity

[Install]
WantedBy=multi-user.target
"""


class Runner:
    """Runs modules on one lab host through hostprep's SSH transport, the way the executor does."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self.transport = open_transport(host.name, host.hostvars)

    def __call__(self, module: str, args: dict[str, Any], check: bool = False) -> dict[str, Any]:
        mod = get_module(module)()
        ctx = TaskContext(transport=self.transport, host=self.host.name, check_mode=check, diff=True)
        return mod.run(mod.validate(args), ctx)

    def converge(self, module: str, args: dict[str, Any]) -> dict[str, Any]:
        """Check mode (reports a change, touches nothing), a real run (changed), a re-run (ok)."""
        before = snapshot(self.host)
        dry = self(module, args, check=True)
        assert dry.get("changed") and not dry.get("failed"), dry
        assert snapshot(self.host) == before, f"check mode changed the host ({module})"
        first = self(module, args)
        assert first.get("changed") and not first.get("failed"), first
        again = self(module, args)
        assert not again.get("changed") and not again.get("failed"), again
        return {"check": dry, "first": first, "again": again}

    def close(self) -> None:
        self.transport.close()


@pytest.fixture(scope="module")
def el9(lab) -> Iterator[Runner]:
    runner = Runner(lab.up(1, "el9", "sysmods")[0])
    yield runner
    runner.close()


def _repo_args() -> dict[str, Any]:
    base = lab_vars()["docker_repo_base_url"]
    return {"name": "hp-docker-stable", "description": "hostprep lab docker stable", "file": "hp-docker",
            "baseurl": f"{base}/$releasever/$basearch/stable", "gpgcheck": True,
            "gpgkey": f"{lab_vars()['lab_repo_url']}/RPM-GPG-KEY-hostprep-lab", "enabled": True, "mode": "0640"}


def test_rpm_key_and_yum_repository(el9: Runner) -> None:
    h = el9.host
    key = f"{lab_vars()['lab_repo_url']}/RPM-GPG-KEY-hostprep-lab"
    fpr = lab_vars()["docker_gpg_fingerprint"]
    keyid = fpr.replace(" ", "")[-8:].lower()
    # a lab host trusts its base repository's key from the start, as an EL install trusts its release key;
    # the lab signs every repository with one key, so take it out: importing it is what is tested
    removed = ssh(h, f"rpm -e --allmatches gpg-pubkey-{keyid}")
    assert removed.returncode == 0, removed.stderr
    wrong = el9("rpm_key", {"key": key, "fingerprint": "0000" + fpr.replace(" ", "")[4:]})
    assert wrong.get("failed") and "does not match" in wrong["msg"]
    assert ssh(h, f"rpm -q gpg-pubkey-{keyid}").returncode != 0, "a key with the wrong fingerprint was imported"
    runs = el9.converge("rpm_key", {"key": key, "fingerprint": fpr})
    assert runs["first"]["changed"] and not runs["again"]["changed"]
    assert keyid in ssh(h, "rpm -q gpg-pubkey --qf '%{VERSION}\\n'").stdout.split()
    runs = el9.converge("yum_repository", _repo_args())
    assert runs["check"]["diff"]["after"].startswith("[hp-docker-stable]\n")
    text = ssh(h, "cat /etc/yum.repos.d/hp-docker.repo; stat -c %a /etc/yum.repos.d/hp-docker.repo").stdout
    assert "baseurl = http://" in text and "gpgcheck = 1" in text and text.endswith("\n640\n")
    assert ssh(h, "dnf -q repoquery --repo hp-docker-stable docker-ce-cli | wc -l").stdout.strip() == "3"


def test_dnf_install_pin_upgrade_downgrade_remove(el9: Runner) -> None:
    h = el9.host
    runs = el9.converge("dnf", {"name": ["docker-ce-cli-24.0.7", "lvm2"], "state": "present"})
    assert runs["check"]["diff"] == {"before": "docker-ce-cli: absent\nlvm2: absent\n",
                                     "after": "docker-ce-cli: 1:24.0.7-1.lab\nlvm2: 2.03.21-1.lab\n"}
    assert ssh(h, "rpm -q docker-ce-cli lvm2").stdout.split() == ["docker-ce-cli-24.0.7-1.lab.x86_64",
                                                                  "lvm2-2.03.21-1.lab.noarch"]
    runs = el9.converge("dnf", {"name": "docker-ce-cli >= 1:25"})
    # Ansible's dnf lists an upgrade's new package as Installed (its install_set) and the old one as Removed
    assert runs["first"]["results"] == ["Installed: docker-ce-cli-1:26.1.4-1.lab.x86_64",
                                        "Removed: docker-ce-cli-1:24.0.7-1.lab.x86_64"]
    # the pin is older than what is installed: left alone unless allow_downgrade
    assert not el9("dnf", {"name": "docker-ce-cli-24.0.7"}).get("changed")
    runs = el9.converge("yum", {"name": "docker-ce-cli-24.0.7", "allow_downgrade": True})
    assert runs["check"]["diff"]["before"] == "docker-ce-cli: 1:26.1.4-1.lab\n"
    assert ssh(h, "rpm -q docker-ce-cli").stdout.strip() == "docker-ce-cli-24.0.7-1.lab.x86_64"
    # one listing of updates answers each glob task, with the task's own targets and excludes
    assert not el9("dnf", {"name": "*", "state": "latest", "exclude": ["docker-ce-cli"]}).get("changed")
    assert not el9("dnf", {"name": "python*", "state": "latest", "update_only": True}).get("changed")
    docker = el9("dnf", {"name": "docker*.x86_64", "state": "latest", "update_only": True}, check=True)
    assert docker.get("changed") and not docker.get("failed"), docker
    # a repository dnf cannot read fails the task (it does not look like "no updates")
    broken = {"name": "hp-broken", "description": "broken", "gpgcheck": False,
              "baseurl": f"{lab_vars()['lab_repo_url']}/no-such-repo"}
    assert el9("yum_repository", broken).get("changed")
    try:
        failed = el9("dnf", {"name": "*", "state": "latest"}, check=True)
        assert failed.get("failed") and "check-update * failed (rc=1)" in failed["msg"], failed
        assert "hp-broken" in failed["msg"]
    finally:
        el9("yum_repository", {"name": "hp-broken", "state": "absent"})
    runs = el9.converge("dnf", {"name": "*", "state": "latest"})
    assert ssh(h, "rpm -q docker-ce-cli").stdout.strip() == "docker-ce-cli-26.1.4-1.lab.x86_64"
    missing = el9("dnf", {"name": "hostprep-no-such-package"}, check=True)
    assert missing.get("failed") and "No package matching" in missing["msg"]
    runs = el9.converge("package", {"name": ["docker-ce-cli", "lvm2"], "state": "absent"})
    assert runs["first"]["ansible_facts"] == {"pkg_mgr": "dnf"}
    assert ssh(h, "rpm -q docker-ce-cli lvm2").returncode == 2


def test_systemd_unit_enable_start_stop_mask(el9: Runner) -> None:
    h = el9.host
    # where packages put units: masking links /etc/systemd/system/NAME to /dev/null over it
    el9.transport.put(UNIT.encode(), "/usr/lib/systemd/system/hp-sleeper.service", mode="0644")
    runs = el9.converge("systemd", {"name": "hp-sleeper", "state": "started", "enabled": True,
                                    "daemon_reload": True})
    assert runs["first"]["enabled"] is True and runs["again"]["status"]["ActiveState"] == "active"
    state = ssh(h, "systemctl is-active hp-sleeper; systemctl is-enabled hp-sleeper").stdout.split()
    assert state == ["active", "enabled"]
    el9.converge("service", {"name": "hp-sleeper", "state": "stopped", "enabled": False})
    assert ssh(h, "systemctl is-active hp-sleeper").stdout.strip() == "inactive"
    el9.converge("systemd_service", {"name": "hp-sleeper", "masked": True})
    assert ssh(h, "systemctl is-enabled hp-sleeper").stdout.strip() == "masked"
    el9.converge("systemd", {"name": "hp-sleeper", "masked": False, "state": "started"})
    assert ssh(h, "systemctl is-active hp-sleeper").stdout.strip() == "active"
    missing = el9("service", {"name": "hostprep-nosuch", "state": "started"})
    assert missing.get("failed") and "Could not find the requested service" in missing["msg"]


def test_group_and_user(el9: Runner) -> None:
    h = el9.host
    runs = el9.converge("group", {"name": "hpops", "gid": 3501})
    assert runs["first"]["gid"] == 3501
    hashed = "$6$hostprep$Jv6gS7k0i1Yc2QWz.6cD0kH2tTzvBv5o3e1t9bqJxY5mQFQnT7vhq0f0F6z2rTtcx3lV6bMDk5hbDtVQ2Ka3o1"
    args = {"name": "hpuser", "uid": 3502, "group": "hpops", "groups": ["wheel"], "shell": "/bin/sh",
            "comment": "hostprep test", "password": hashed, "expires": 1893456000}
    runs = el9.converge("user", args)
    assert (runs["first"]["uid"], runs["first"]["group"], runs["first"]["home"]) == (3502, 3501, "/home/hpuser")
    assert hashed not in str(runs)
    assert ssh(h, "id -nG hpuser").stdout.split() == ["hpops", "wheel"]
    shadow = ssh(h, "getent shadow hpuser").stdout.strip().split(":")
    assert shadow[1] == hashed and shadow[7] == "21915"
    assert ssh(h, "getent passwd hpuser").stdout.strip() == "hpuser:x:3502:3501:hostprep test:/home/hpuser:/bin/sh"
    el9.converge("user", {"name": "hpuser", "groups": [], "password_lock": True})
    assert ssh(h, "id -nG hpuser").stdout.split() == ["hpops"]
    assert ssh(h, "getent shadow hpuser | cut -d: -f2").stdout.startswith("!$6$")
    el9.converge("user", {"name": "hpuser", "state": "absent", "remove": True})
    el9.converge("group", {"name": "hpops", "state": "absent"})
    assert ssh(h, "getent passwd hpuser; getent group hpops").stdout == ""


def test_pip_into_a_virtualenv_offline(el9: Runner, tmp_path: Path) -> None:
    h = el9.host
    el9.transport.run("mkdir -p /root/hp-wheels")
    for version in ("1.0", "2.0"):
        whl = make_wheel(tmp_path / "wheels", version=version)
        el9.transport.put(whl.read_bytes(), f"/root/hp-wheels/{whl.name}", mode="0644")
    base = {"virtualenv": "/opt/hp-venv", "virtualenv_command": "python3 -m venv",
            "extra_args": "--no-index --find-links /root/hp-wheels"}
    el9.converge("pip", {**base, "name": ["hostprep-probe-pkg==1.0"]})
    assert ssh(h, "/opt/hp-venv/bin/pip list --format=freeze | grep -i probe").stdout.strip() == \
        "hostprep-probe-pkg==1.0"
    runs = el9.converge("pip", {**base, "name": ["hostprep-probe-pkg"], "state": "latest"})
    # Ansible's pip gives no diff, and in check mode with extra_args or state=latest says changed without
    # looking; the real run then upgrades (pip's "Successfully installed")
    assert runs["check"]["changed"] and "diff" not in runs["check"], runs["check"]
    assert runs["first"]["changed"] and "Successfully installed" in runs["first"]["stdout"], runs["first"]
    assert ssh(h, "/opt/hp-venv/bin/python -c 'import hostprep_probe_pkg'").returncode == 0
    assert "hostprep-probe-pkg==2.0" in ssh(h, "/opt/hp-venv/bin/pip list --format=freeze").stdout
    el9.converge("pip", {"name": ["hostprep-probe-pkg"], "virtualenv": "/opt/hp-venv", "state": "absent"})


def test_wait_for_port_and_path(el9: Runner) -> None:
    ok = el9("wait_for", {"port": 22, "timeout": 10, "search_regex": "OpenSSH"})
    assert not ok.get("failed") and not ok["changed"], ok
    started = time.monotonic()
    closed = el9("wait_for", {"port": 2, "timeout": 2, "msg": "port 2 stays closed"})
    assert closed.get("failed") and closed["msg"] == "port 2 stays closed"
    assert time.monotonic() - started < 60  # generous: only tells timeout=2 from wait_for's default 300 s
    el9.transport.run("rm -f /run/hp-flag; (sleep 2; echo ready > /run/hp-flag) >/dev/null 2>&1 &")
    flag = el9("wait_for", {"path": "/run/hp-flag", "search_regex": "ready", "timeout": 20})
    assert not flag.get("failed") and flag["elapsed"] >= 1, flag


def test_yum_on_el7(lab) -> None:
    """The yum module on the lab's EL7 host, whose `yum` is dnf 4 under that name (hostprep/lab/README.md): this
    shows the module's commands, plans and idempotence on an EL7-flavoured host; yum 3's own output, exit codes
    and Python 2 API are not exercised here."""
    el7 = Runner(lab.up(1, "el7", "sysmods7")[0])
    try:
        runs = el7.converge("yum", {"name": ["yum-utils", "device-mapper-persistent-data", "lvm2"]})
        assert runs["check"]["diff"]["after"].splitlines() == [
            "yum-utils: 1.1.31-1.lab", "device-mapper-persistent-data: 0.9.0-1.lab", "lvm2: 2.03.21-1.lab"]
        assert ssh(el7.host, "rpm -q lvm2").returncode == 0
        assert not el7("yum", {"name": "*", "state": "latest", "exclude": ["kernel*"]}).get("changed")
        el7.converge("yum", {"name": ["yum-utils", "lvm2"], "state": "removed"})
        assert ssh(el7.host, "rpm -q lvm2 yum-utils").returncode == 2
    finally:
        el7.close()


def test_reboot_waits_for_a_new_boot(lab) -> None:
    host = Runner(lab.up(1, "el9", "sysboot")[0])
    try:
        boot = ssh(host.host, "cat /proc/sys/kernel/random/boot_id").stdout.strip()
        dry = host("reboot", {}, check=True)
        assert dry["changed"] and not dry["rebooted"]
        assert ssh(host.host, "cat /proc/sys/kernel/random/boot_id").stdout.strip() == boot
        res = host("reboot", {"reboot_timeout": 120, "test_command": "systemctl is-system-running --wait"})
        assert res == {"changed": True, "rebooted": True, "elapsed": res["elapsed"]}, res
        assert ssh(host.host, "cat /proc/sys/kernel/random/boot_id").stdout.strip() != boot
        # the same transport keeps working after the reboot
        assert host.transport.run("systemctl is-system-running").stdout.strip() == "running"
    finally:
        host.close()
