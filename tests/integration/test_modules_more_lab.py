"""The added modules (replace, hostname, cron, getent, authorized_key, unarchive, find, script, fetch,
package_facts, service_facts, tempfile, pause, wait_for_connection) on a real EL9 lab host: applied twice
(the second run changes nothing and leaves the host identical), then in check mode on a drifted host
(reported as changes, nothing changed)."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import pytest

from tests.integration.labutil import failures, hostprep, snapshot, ssh, summary, write_inventory

PLAYBOOK = Path(__file__).parent / "playbooks" / "more"
EXTRA = ("cat /etc/hostname; hostname; for f in /etc/cron.d/hostprep-more /home/hpmore/.ssh/authorized_keys; do "
         "echo \"== $f\"; stat -c '%a %U %G' \"$f\" 2>&1; cat \"$f\" 2>&1; done; "
         "find /opt/more-app -printf '%p %m %u %g\\n' | sort")


def _archive(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        for name, data, mode in (("app/bin/run", b"#!/bin/sh\necho run\n", 0o755), ("app/README", b"app\n", 0o644),
                                 ("app/conf/app.conf", b"level=info\n", 0o644)):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 1700000000
            tf.addfile(info, io.BytesIO(data))


def _state(host) -> str:
    extra = ssh(host, EXTRA)
    assert extra.returncode == 0, extra.stderr
    return snapshot(host) + extra.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("more-project")
    shutil.copytree(PLAYBOOK, root, dirs_exist_ok=True)
    _archive(root / "files" / "app.tar.gz")
    return root


def test_more_modules_converge_then_change_nothing(lab, project: Path) -> None:
    (h,) = lab.up(1, "el9", "more")
    inv = write_inventory(project / "inv.yml", [h])
    first = hostprep("apply", "-i", str(inv), "site.yml", "--json", "--detailed-exitcode", cwd=project)
    assert first.returncode == 2, ([(f["task"], f["result"].get("msg")) for f in failures(first)],
                                   first.stdout[-3000:], first.stderr[-2000:])
    assert summary(first)[h.name]["failed"] == 0
    hosts = ssh(h, "cat /srv/more/hosts; stat -c %a /srv/more/hosts; ls /srv/more").stdout
    assert "10.0.0.5 new.example.com old\n10.0.0.6 old-db.example.com\n" in hosts and "\n640\n" in hosts
    assert any(n.startswith("hosts.") and n.endswith("~") for n in hosts.split()), hosts  # the backup
    assert ssh(h, "hostnamectl --static status; hostname").stdout.split() == ["more-el9.lab.test"] * 2
    cron = ssh(h, "cat /etc/cron.d/hostprep-more").stdout
    assert cron == ('MAILTO="ops@example.com"\n#Ansible: hostprep more\n*/15 * * * * root date > /srv/more/cron-ran\n'
                    "#Ansible: off job\n#@daily root /bin/true\n")
    keys = ssh(h, "stat -c '%a %U' /home/hpmore/.ssh /home/hpmore/.ssh/authorized_keys; "
                  "cat /home/hpmore/.ssh/authorized_keys").stdout.splitlines()
    assert keys[:2] == ["700 hpmore", "600 hpmore"]
    assert keys[2].startswith('no-port-forwarding,from="10.0.0.0/8" ssh-ed25519 AAAAC3')
    assert keys[2].endswith("deploy@ci")
    app = ssh(h, "cat /opt/more-app/app/conf/app.conf; stat -c '%a %U %G' /opt/more-app/app/bin/run; "
                 "cat /srv/more/remote-app/app/README").stdout
    assert app == "level=info\n755 hpmore hpmore\napp\n"
    assert ssh(h, "cat /srv/more/script-ran").stdout.startswith("ran by root in /")
    fetched = project / "fetched" / h.name / "srv/more/script-ran"
    assert fetched.read_text().startswith("ran by root in ")
    assert ssh(h, "ls /tmp | grep -c more$ || true").stdout.strip() == "0"  # the tempfile directory was removed

    before = _state(h)
    second = hostprep("apply", "-i", str(inv), "site.yml", "--json", "--detailed-exitcode", cwd=project)
    assert second.returncode == 0, ([(f["task"], f["result"].get("msg")) for f in failures(second)],
                                    second.stdout[-3000:])
    assert summary(second)[h.name]["changed"] == 0
    assert _state(h) == before


def test_check_mode_on_a_drifted_host_changes_nothing(lab, project: Path) -> None:
    (h,) = lab.up(1, "el9", "more")  # the host converged by the test above
    inv = write_inventory(project / "inv.yml", [h])
    drift = ("sed -i 's/new.example.com/old.example.com/' /srv/more/hosts; rm -f /etc/cron.d/hostprep-more; "
             "echo changed > /opt/more-app/app/README; hostname drifted; "
             ": > /home/hpmore/.ssh/authorized_keys")
    assert ssh(h, drift).returncode == 0
    before = _state(h)
    proc = hostprep("apply", "-i", str(inv), "site.yml", "--check", "--diff", "--json", cwd=project)
    assert proc.returncode in (0, 2), (failures(proc), proc.stderr[-2000:])
    changed = {e["task"] for e in _events(proc) if e.get("status") == "changed"}
    for task in ("Replace names after the marker", "Hostname with hostnamectl", "A cron job in /etc/cron.d",
                 "Its authorized key", "Unpacked"):
        assert task in changed, (task, sorted(changed))
    assert _state(h) == before


def _events(proc) -> list[dict]:
    import json

    return [e for e in (json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{"))
            if e.get("event") == "task_result"]


def test_mount_tmpfs_mounted_remounted_absent(lab, project: Path) -> None:
    (h,) = lab.up(1, "el9", "more")
    inv = write_inventory(project / "inv.yml", [h])

    def apply(*extra: str):
        proc = hostprep("apply", "-i", str(inv), "mount.yml", "--json", "--detailed-exitcode", *extra, cwd=project)
        assert proc.returncode in (0, 2), ([(f["task"], f["result"].get("msg")) for f in failures(proc)],
                                           proc.stderr[-2000:])
        return proc.returncode

    def mounted() -> str:
        return ssh(h, "findmnt -rn -o FSTYPE,OPTIONS /srv/more-mnt/scratch; cat /srv/more-fstab").stdout

    assert apply() == 2
    first = mounted()
    assert first.startswith("tmpfs ") and "size=1024k" in first and "mode=750" in first
    assert first.endswith("tmpfs /srv/more-mnt/scratch tmpfs size=1m,mode=0750 0 0\n")
    assert apply() == 0 and mounted() == first
    assert apply("--check", "-e", "size=2m") == 2 and mounted() == first
    assert apply("-e", "size=2m") == 2 and "size=2048k" in mounted()
    assert apply("-e", "state=absent") == 2
    assert ssh(h, "findmnt /srv/more-mnt/scratch; ls /srv/more-mnt; cat /srv/more-fstab").stdout == ""
    assert apply("-e", "state=absent") == 0
