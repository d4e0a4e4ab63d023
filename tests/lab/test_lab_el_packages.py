"""Lab hosts as each EL release ships them: its own Python, a minimal install's RPM database, firewalld.

Every check runs on a booted lab host, with the real rpm, dnf (behind `yum`), interpreters and
firewalld; the host is reached from the machine over the lab bridge only.
"""

from __future__ import annotations

import socket
import subprocess

import pytest

from hostprep.lab import paths
from hostprep.lab.packages import baseset
from hostprep.lab.packages.pythons import LAB_PYTHON


def ssh(host, cmd: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-i", str(paths.KEY), "-o", f"UserKnownHostsFile={paths.KNOWN_HOSTS}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", f"root@{host.address}", cmd],
        capture_output=True, text=True, timeout=timeout,
    )


def ok(host, cmd: str) -> str:
    res = ssh(host, cmd)
    assert res.returncode == 0, f"{cmd}\n{res.stdout}\n{res.stderr}"
    return res.stdout


def test_el7_has_python2_and_python3_only_after_yum_install(lab) -> None:
    (h,) = lab.up(1, "el7", "elpy7")
    assert ok(h, "python -V 2>&1; readlink -f /usr/bin/python; rpm -qf --qf '%{NAME}\\n' /usr/bin/python2.7") \
        .split() == ["Python", "2.7.18", "/usr/bin/python2.7", "python"]
    # no python3 at first boot, and no Debian interpreter answering for it
    assert ssh(h, "command -v python3 || command -v python3.11 || ls /usr/bin/python3*").returncode != 0
    assert ssh(h, "rpm -q python3").stdout.strip() == "package python3 is not installed"
    ok(h, "yum -y -q install python3")
    out = ok(h, "python3 -V; python3 -c 'import ssl, sqlite3, ctypes, venv; print(\"stdlib ok\")'; pip3 --version; "
                "rpm -q --qf '%{NAME}-%{VERSION}\\n' python3 python3-libs python3-pip")
    assert out.splitlines()[:2] == ["Python 3.6.15", "stdlib ok"]
    assert "(python 3.6)" in out.splitlines()[2]
    assert out.splitlines()[3:] == ["python3-3.6.15", "python3-libs-3.6.15", "python3-pip-18.1"]
    ok(h, "yum -y -q remove python3 python3-libs")
    assert ssh(h, "hash -r; command -v python3 || ls /usr/lib/python3.6").returncode != 0
    # the package manager keeps its own interpreter: removing the host's python3 breaks nothing
    assert ok(h, "yum -q -y install yum-utils >/dev/null && rpm -q yum-utils").startswith("yum-utils-")
    assert ok(h, "head -1 /usr/bin/dnf-3").strip() == f"#!{LAB_PYTHON}"


def test_el8_has_platform_python_and_offers_python36_and_python39(lab) -> None:
    (h,) = lab.up(1, "el8", "elpy8")
    assert ok(h, "/usr/libexec/platform-python -V; rpm -qf --qf '%{NAME}\\n' /usr/libexec/platform-python3.6") \
        .split() == ["Python", "3.6.15", "platform-python"]
    assert ssh(h, "command -v python3 || command -v python").returncode != 0
    ok(h, "yum -y -q install python3 python39")
    out = ok(h, "python3 -V; python3.9 -V; pip3.9 --version; rpm -q --qf '%{NAME}\\n' --whatprovides python3")
    lines = out.splitlines()
    assert lines[:2] == ["Python 3.6.15", "Python 3.9.18"]
    assert "(python 3.9)" in lines[2]
    assert lines[3] == "python36"


def test_el9_python3_is_39_and_dnf_survives_its_removal(lab) -> None:
    (h,) = lab.up(1, "el9", "elpy9")
    assert ok(h, "python3 -V; rpm -qf --qf '%{NAME}\\n' /usr/bin/python3.9").split() == \
        ["Python", "3.9.18", "python3"]
    # as on EL9, dnf needs python3: yum refuses to remove it (dnf is protected)
    refused = ssh(h, "yum -y remove python3")
    assert refused.returncode != 0 and "protected packages" in refused.stdout + refused.stderr
    # forced out with rpm, the package manager still works (its interpreter is private) and puts it back
    ok(h, "rpm -e --nodeps python3 python3-libs hostprep-lab-respawn")
    assert ssh(h, "hash -r; python3 -V").returncode != 0
    ok(h, "yum -y -q install python3 hostprep-lab-respawn")
    assert ok(h, "hash -r; python3 -V").strip() == "Python 3.9.18"


@pytest.mark.parametrize("flavor", ["el7", "el8", "el9"])
def test_rpm_database_lists_a_minimal_install(lab, flavor: str) -> None:
    (h,) = lab.up(1, flavor, f"elbase{flavor[-1]}")
    rel = flavor[-1]
    names = set(ok(h, "rpm -qa --qf '%{NAME}\\n'").split())
    expected = set(baseset.installed(rel)) | {"gpg-pubkey"}
    expected |= {"7": {"python", "python-libs"}, "8": {"platform-python", "python3-libs"},
                 "9": {"python3", "python3-libs"}}[rel]
    assert expected <= names, expected - names
    assert not {"docker-ce", "firewalld", "yum-utils"} & names
    assert (rel == "7") == ("dnf" not in names)  # EL7's package manager is yum 3 (in name: see the lab README)
    versions = ok(h, "rpm -q --qf '%{NAME} %{VERSION}\\n' bash systemd openssh-server").splitlines()
    assert versions == [f"{n} {baseset.BASE[rel][n][1]}" for n in ("bash", "systemd", "openssh-server")]
    # dependency checks see EL's relations: removing openssh would take the server with it
    test = ssh(h, "rpm -e --test openssh")
    assert test.returncode != 0 and "openssh-server" in test.stderr


def test_firewalld_from_the_lab_repo_opens_a_port(lab) -> None:
    (h,) = lab.up(1, "el9", "elfw")
    ok(h, "yum -y -q install firewalld && systemctl start firewalld")
    assert ok(h, "firewall-cmd --state; firewall-cmd --get-default-zone").split() == ["running", "public"]
    ok(h, "systemd-run --unit=hp-listen nc -lk 8080")

    def connect() -> str:
        try:
            with socket.create_connection((h.address, 8080), timeout=5):
                return "open"
        except OSError as exc:
            return type(exc).__name__ + str(exc.errno)

    closed = connect()
    assert closed != "open", "the default zone let an unlisted port through"
    ok(h, "firewall-cmd --add-port=8080/tcp")
    assert connect() == "open"
    assert "8080" in ok(h, "nft list ruleset")  # nftables backend, in the host's own network namespace
    ok(h, "firewall-cmd --remove-port=8080/tcp")
    assert connect() == closed
    ok(h, "systemctl stop hp-listen firewalld")


def test_a_missing_pyenv_build_is_named_with_the_command_that_makes_it(monkeypatch, tmp_path) -> None:
    from hostprep.errors import HostprepError
    from hostprep.lab.packages import pythons

    monkeypatch.setattr(pythons, "PYENV", tmp_path)
    with pytest.raises(HostprepError, match=r"python2\.7 is missing.*run `pyenv install 2\.7\.18`"):
        pythons.fingerprint()
