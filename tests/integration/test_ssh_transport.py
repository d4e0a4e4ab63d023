"""The SSH transport against a real sshd on loopback: commands, files, host keys, become."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from hostprep.errors import HostKeyError, UnreachableError
from hostprep.transport.base import BecomeSpec
from hostprep.transport.connect import open_transport
from hostprep.transport.ssh import SSHTransport
from tests.integration.loopback_sshd import LoopbackSshd, start_sshd


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory):
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


def test_run_separates_streams_and_exit_code(sshd: LoopbackSshd) -> None:
    t = open_transport("lo", sshd.hostvars())
    try:
        res = t.run("echo out; echo err >&2; exit 3")
        assert (res.rc, res.stdout, res.stderr) == (3, "out\n", "err\n")
        res = t.run("cat | wc -c", stdin=b"x" * 300_000)
        assert res.stdout.strip() == "300000"
        res = t.run('printf "%s" "$GREETING"', env={"GREETING": "hello world; $(no)"})
        assert res.stdout == "hello world; $(no)"
        assert t.round_trips == 3
    finally:
        t.close()


def test_connection_is_reused(sshd: LoopbackSshd) -> None:
    t = open_transport("lo", sshd.hostvars())
    try:
        first = t.run("echo $PPID").stdout
        assert isinstance(t, SSHTransport)
        conn = t.connect()
        t.run("true")
        assert t.connect() is conn
        assert first.strip().isdigit()
    finally:
        t.close()


def test_put_is_atomic_with_mode_and_get_reads_back(sshd: LoopbackSshd, tmp_path: Path) -> None:
    t = open_transport("lo", sshd.hostvars())
    dest = tmp_path / "conf.txt"
    dest.write_text("old\n")
    data = os.urandom(1_500_000)
    try:
        t.put(data, str(dest), mode="0640")
        assert dest.read_bytes() == data
        assert oct(dest.stat().st_mode & 0o777) == "0o640"
        assert t.get(str(dest)) == data
        # no temporary files left beside it
        assert sorted(p.name for p in tmp_path.iterdir()) == ["conf.txt"]
        # become path (sudo as root) writes through the shell pipe, verifies the checksum
        t.put(b"via sudo\n", str(dest), mode="0600", become=BecomeSpec(enabled=True))
        assert dest.read_bytes() == b"via sudo\n"
        assert oct(dest.stat().st_mode & 0o777) == "0o600"
        assert hashlib.sha256(t.get(str(dest), become=BecomeSpec(enabled=True))).hexdigest() == hashlib.sha256(
            b"via sudo\n"
        ).hexdigest()
    finally:
        t.close()


def test_become_runs_as_other_user(sshd: LoopbackSshd) -> None:
    t = open_transport("lo", sshd.hostvars())
    try:
        res = t.run("id -un", become=BecomeSpec(enabled=True, user="nobody"))
        assert res.stdout.strip() == "nobody", res.stderr
    finally:
        t.close()


def test_unknown_host_key_is_refused_with_fingerprint(sshd: LoopbackSshd, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    hv = sshd.hostvars(ansible_ssh_common_args=f"-o UserKnownHostsFile={empty}")
    t = open_transport("lo", hv)
    with pytest.raises(HostKeyError) as info:
        t.run("true")
    expected = subprocess.run(
        ["ssh-keygen", "-lf", "-"], input=sshd.host_pub, capture_output=True, text=True, check=True
    ).stdout.split()[1]
    assert expected in str(info.value)
    assert empty.read_text() == ""


def test_accept_new_records_the_key(sshd: LoopbackSshd, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    hv = sshd.hostvars(ansible_ssh_common_args=f"-o UserKnownHostsFile={known} -o StrictHostKeyChecking=accept-new")
    t = open_transport("lo", hv)
    try:
        assert t.run("true").rc == 0
    finally:
        t.close()
    assert sshd.host_pub.split()[1] in known.read_text()
    # and the recorded key is then accepted in strict mode
    strict = open_transport("lo", sshd.hostvars(ansible_ssh_common_args=f"-o UserKnownHostsFile={known}"))
    try:
        assert strict.run("true").rc == 0
    finally:
        strict.close()


def test_changed_host_key_is_refused_even_with_accept_new(sshd: LoopbackSshd, tmp_path: Path) -> None:
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    kind, blob = (tmp_path / "other.pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {kind} {blob}\n")
    hv = sshd.hostvars(ansible_ssh_common_args=f"-o UserKnownHostsFile={known} -o StrictHostKeyChecking=accept-new")
    t = open_transport("lo", hv)
    with pytest.raises(HostKeyError, match="CHANGED"):
        t.run("true")


def test_unreachable_port_is_reported(sshd: LoopbackSshd) -> None:
    from tests.integration.loopback_sshd import free_port

    hv = sshd.hostvars(ansible_port=free_port())
    t = open_transport("lo", hv)
    t.settings.connect_retries = 0
    with pytest.raises(UnreachableError):
        t.run("true")
