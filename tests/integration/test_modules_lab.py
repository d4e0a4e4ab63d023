"""Every host module applied on real lab hosts: twice (second run changes nothing), once in check mode
(nothing changes on the host), and again as an unprivileged user with sudo and a password."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from hostprep.lab.repo import repo_dir
from tests.integration.labutil import failures, hostprep, make_wheel, snapshot, ssh, summary, write_inventory

PLAYBOOKS = Path(__file__).parent / "playbooks"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("modules-project")
    shutil.copy(PLAYBOOKS / "modules.yml", root / "site.yml")
    shutil.copytree(PLAYBOOKS / "templates", root / "templates")
    make_wheel(root / "files" / "wheels")
    return root


def _key_sha256() -> str:
    return hashlib.sha256((repo_dir() / "RPM-GPG-KEY-hostprep-lab").read_bytes()).hexdigest()


def test_modules_converge_then_change_nothing(lab, project: Path) -> None:
    hosts = lab.up(1, "el9", "mods")
    inv = write_inventory(project / "inv.yml", hosts)
    ev = f"key_sha256={_key_sha256()}"
    first = hostprep("apply", "-i", str(inv), "site.yml", "-e", ev, "--json", "--detailed-exitcode", cwd=project)
    assert first.returncode == 2, ([(f["task"], f["result"].get("msg")) for f in failures(first)], first.stderr)
    s = summary(first)[hosts[0].name]
    assert s["failed"] == 0 and s["changed"] >= 15
    (h,) = hosts
    assert ssh(h, "cat /srv/hostprep-test/motd").stdout == f"managed by hostprep on {h.name}\n"
    assert ssh(h, "stat -c %a /srv/hostprep-test/motd").stdout.strip() == "640"
    conf = ssh(h, "cat /srv/hostprep-test/app.conf").stdout
    assert "level=info" in conf and "os=CentOS 9" in conf and "worker1=on" in conf
    assert ssh(h, "cat /srv/hostprep-test/local.conf").stdout == "# local overrides\nlevel=debug\n"
    assert ssh(h, "systemctl is-active hostprep-test; systemctl is-enabled hostprep-test").stdout.split() == [
        "active", "enabled"]
    assert ssh(h, "systemctl is-enabled e2scrub_all.timer").stdout.strip() == "masked"
    assert ssh(h, "id -nG hpuser").stdout.split() == ["hpops", "wheel"]
    assert ssh(h, "rpm -q lvm2").returncode == 0
    assert ssh(h, "/opt/hp-venv/bin/python -c 'import hostprep_probe_pkg as m; print(m.VALUE)'").stdout.strip() \
        == "42"
    assert "enabled = 0" in ssh(h, "cat /etc/yum.repos.d/hostprep-extra.repo").stdout
    before = snapshot(h)
    second = hostprep("apply", "-i", str(inv), "site.yml", "-e", ev, "--json", "--detailed-exitcode", cwd=project)
    assert second.returncode == 0, (failures(second), second.stdout[-3000:])
    assert summary(second)[h.name]["changed"] == 0
    assert snapshot(h) == before


def test_modules_as_deploy_with_sudo_password(lab, project: Path) -> None:
    hosts = lab.up(1, "el9", "mods")  # the converged host from the test above (same session fixture)
    inv = write_inventory(project / "inv-deploy.yml", hosts, deploy=True)
    proc = hostprep("apply", "-i", str(inv), "site.yml", "-e", f"key_sha256={_key_sha256()}", "--json",
                    "--detailed-exitcode", cwd=project)
    assert proc.returncode == 0, (failures(proc), proc.stderr)
    assert hosts[0].deploy_password not in proc.stdout + proc.stderr


def test_check_mode_changes_nothing_on_a_fresh_host(lab, project: Path) -> None:
    hosts = lab.up(1, "el9", "modcheck")
    inv = write_inventory(project / "inv-check.yml", hosts)
    before = snapshot(hosts[0])
    proc = hostprep("apply", "-i", str(inv), "site.yml", "-e", f"key_sha256={_key_sha256()}", "--check", "--diff",
                    "--json", cwd=project)
    assert proc.returncode in (0, 1, 2), proc.stderr
    assert summary(proc)[hosts[0].name]["changed"] >= 10, [(f["task"], f["result"].get("msg")) for f in failures(proc)]
    assert snapshot(hosts[0]) == before


def test_package_service_raw_reboot_and_apt(lab, tmp_path: Path) -> None:
    import glob

    import yaml

    from hostprep.lab.api import lab_vars

    el = lab.up(1, "el9", "sys")[0]
    deb = lab.up(1, "debian12", "sysdeb")[0]
    shutil.copy(PLAYBOOKS / "system.yml", tmp_path / "site.yml")
    (tmp_path / "files").mkdir()
    shutil.copy(sorted(glob.glob("/var/cache/hostprep/debs/bookworm/tini_*.deb"))[-1], tmp_path / "files/tini.deb")
    inv = tmp_path / "inv.yml"
    inv.write_text(yaml.safe_dump({"all": {"vars": lab_vars(), "children": {
        "el": {"hosts": {el.name: el.hostvars}}, "deb": {"hosts": {deb.name: deb.hostvars}}}}}))
    boots_before = ssh(el, "awk '{print $22}' /proc/1/stat").stdout.strip()
    first = hostprep("apply", "-i", str(inv), "site.yml", "-e", "do_reboot=true", "--json", cwd=tmp_path)
    assert first.returncode == 0, ([(f["task"], f["result"].get("msg")) for f in failures(first)], first.stderr)
    assert ssh(el, "awk '{print $22}' /proc/1/stat").stdout.strip() != boots_before
    assert ssh(deb, "dpkg-query -W -f='${Status}' tini").stdout == "install ok installed"
    again = hostprep("apply", "-i", str(inv), "site.yml", "--json", "--detailed-exitcode", cwd=tmp_path)
    assert again.returncode == 0, ([(f["task"], f["result"].get("msg")) for f in failures(again)], again.stdout[-2000:])
