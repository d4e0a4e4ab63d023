"""The fleet transport against real sshd processes on this machine (no lab host needed):
ssh_config (-F and ~/.ssh/config) merged like OpenSSH, ProxyJump chains through sshds in a
network namespace this test makes, host keys on targets and hops, and streamed, atomic uploads."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from hostprep.errors import HostKeyError, TransportError, UnreachableError
from hostprep.transport.base import BecomeSpec
from hostprep.transport.connect import open_transport
from hostprep.transport.local import LocalTransport
from hostprep.transport.options import ConnectionOptions, layered, reset_warnings
from hostprep.transport.remote_put import finish_script
from hostprep.transport.ssh import SSHTransport
from tests.integration.loopback_sshd import LoopbackSshd, free_port, running_sshd, start_sshd


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def netns():
    """A network namespace joined to this one by a veth pair; removed (and checked gone) at the end."""
    if os.geteuid() != 0:
        raise RuntimeError("these tests need root (network namespaces, sshd): run the suite as root")
    name = f"hpft{os.getpid() % 10_000_000}"
    third = os.getpid() % 250
    host_addr, ns_addr = f"10.213.{third}.1", f"10.213.{third}.2"
    _ip("netns", "add", name)
    try:
        _ip("link", "add", f"{name}h", "type", "veth", "peer", "name", f"{name}n")
        _ip("link", "set", f"{name}n", "netns", name)
        _ip("addr", "add", f"{host_addr}/30", "dev", f"{name}h")
        _ip("link", "set", f"{name}h", "up")
        _ip("-n", name, "addr", "add", f"{ns_addr}/30", "dev", f"{name}n")
        _ip("-n", name, "link", "set", f"{name}n", "up")
        _ip("-n", name, "link", "set", "lo", "up")
        yield name, host_addr, ns_addr
    finally:
        subprocess.run(["ip", "link", "del", f"{name}h"], capture_output=True)
        _ip("netns", "del", name)
        assert name not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert subprocess.run(["ip", "link", "show", f"{name}h"], capture_output=True).returncode != 0


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory):
    if os.geteuid() != 0:
        raise RuntimeError("these tests need root (sshd as root, sudo): run the suite as root")
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture(scope="module")
def chain(netns, sshd: LoopbackSshd, tmp_path_factory: pytest.TempPathFactory):
    """jump A on loopback here; jump B on the namespace's veth address; the target on the
    namespace's own 127.0.0.1, which only B (inside the namespace) can reach."""
    name, _, ns_addr = netns
    base = tmp_path_factory.mktemp("chain")
    a = sshd
    b = start_sshd(base / "b", address=ns_addr, netns=name, client_key=a.client_key, log_file=base / "b.log")
    target = start_sshd(base / "t", address="127.0.0.1", netns=name, client_key=a.client_key)
    known = base / "known_hosts"
    known.write_text(a.known_hosts.read_text() + b.known_hosts.read_text() + target.known_hosts.read_text())
    yield {"a": a, "b": b, "target": target, "known": known, "ns_addr": ns_addr, "b_log": base / "b.log"}
    target.stop()
    b.stop()



def _assert_inside_namespace(t, chain: dict, close: bool = True) -> None:  # noqa: ANN001
    """The command ran on the target that only the jump chain reaches (it sees the namespace's address)."""
    try:
        res = t.run("ip -o -4 addr show")
        assert res.rc == 0 and chain["ns_addr"] in res.stdout, res.stderr
    finally:
        if close:
            t.close()

def _settle(t) -> None:
    t.close()


def _ssh_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -- ssh_config ------------------------------------------------------------------------------
def test_ssh_config_file_alias_user_port_identity(sshd: LoopbackSshd, tmp_path: Path) -> None:
    cfg = _ssh_config(tmp_path / "config", f"""
Host web1
  HostName 127.0.0.1
  Port {sshd.port}
  User root
  IdentityFile {sshd.client_key}
  UserKnownHostsFile {sshd.known_hosts}
  StrictHostKeyChecking yes
""")
    # the inventory names only the alias; -F FILE (the command line) supplies the file
    t = open_transport("web1", layered({}, ConnectionOptions(ssh_config=str(cfg))))
    try:
        res = t.run("id -un; echo $SSH_CONNECTION")
        assert res.rc == 0, res.stderr
        user, conn = res.stdout.split("\n")[:2]
        assert user == "root" and conn.split()[-1] == str(sshd.port)
    finally:
        t.close()


def test_explicit_values_win_over_ssh_config(sshd: LoopbackSshd, tmp_path: Path) -> None:
    cfg = _ssh_config(tmp_path / "config", f"""
Host web1
  HostName 127.0.0.1
  Port {free_port()}
  User hostprep-no-such-user
  IdentityFile {sshd.client_key}
  UserKnownHostsFile {sshd.known_hosts}
""")
    cli = ConnectionOptions(ssh_config=str(cfg), user="root", timeout=3)
    # the config's port is closed and its user does not exist: the inventory port and -u win
    t = open_transport("web1", layered({"ansible_port": sshd.port}, cli))
    try:
        assert t.run("id -un").stdout.strip() == "root"
    finally:
        t.close()
    # without the inventory port, the config's (closed) port is used: unreachable
    t = open_transport("web1", layered({}, cli))
    t.settings.connect_retries = 0
    with pytest.raises(UnreachableError, match="cannot connect"):
        t.run("true")
    # an inventory user beats -u (Ansible: command-line values are the lowest precedence)
    t = open_transport("web1", layered({"ansible_port": sshd.port, "ansible_user": "hostprep-no-such-user"}, cli))
    with pytest.raises(UnreachableError, match="authentication failed for hostprep-no-such-user@"):
        t.run("true")


def test_ssh_config_host_key_settings(sshd: LoopbackSshd, tmp_path: Path) -> None:
    known = tmp_path / "kh"
    cfg = _ssh_config(tmp_path / "config", f"""
Host web1
  HostName 127.0.0.1
  Port {sshd.port}
  User root
  IdentityFile {sshd.client_key}
  UserKnownHostsFile {known}
  StrictHostKeyChecking accept-new
  HashKnownHosts yes
""")
    t = open_transport("web1", layered({}, ConnectionOptions(ssh_config=str(cfg))))
    try:
        assert t.run("true").rc == 0
    finally:
        t.close()
    text = known.read_text()
    assert text.startswith("|1|") and text.endswith(f" {sshd.host_pub}\n") and text.count("\n") == 1
    # the command line's --host-key-policy wins over the file's StrictHostKeyChecking
    known.write_text("")
    t = open_transport("web1", layered({}, ConnectionOptions(ssh_config=str(cfg), host_key_policy="strict")))
    with pytest.raises(HostKeyError, match="is not known"):
        t.run("true")
    assert known.read_text() == ""


def test_home_ssh_config_is_read_without_f(sshd: LoopbackSshd, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    _ssh_config(home / ".ssh" / "config", f"""
Host db-alias
  HostName 127.0.0.1
  Port {sshd.port}
  User root
  IdentityFile {sshd.client_key}
""")
    (home / ".ssh" / "known_hosts").write_text(sshd.known_hosts.read_text())
    monkeypatch.setenv("HOME", str(home))
    t = open_transport("db-alias", {})
    try:
        assert t.run("id -un").stdout.strip() == "root"
    finally:
        t.close()


# -- ProxyJump -------------------------------------------------------------------------------
def test_target_is_unreachable_without_the_jumps(chain: dict) -> None:
    target = chain["target"]
    t = open_transport("target", target.hostvars(ansible_ssh_common_args=f"-o UserKnownHostsFile={chain['known']}"))
    t.settings.connect_retries = 0
    with pytest.raises(UnreachableError):
        t.run("true")


def test_proxyjump_chain_from_args_goes_a_then_b(chain: dict) -> None:
    a, b, target = chain["a"], chain["b"], chain["target"]
    jumps = f"root@127.0.0.1:{a.port},root@{chain['ns_addr']}:{b.port}"
    hv = target.hostvars(ansible_ssh_common_args=f"-o UserKnownHostsFile={chain['known']} -J {jumps}")
    t = open_transport("target", hv)
    try:
        res = t.run("echo $SSH_CONNECTION; ip -o -4 addr show")
        assert res.rc == 0, res.stderr
        conn_line, addrs = res.stdout.split("\n", 1)
        # the target saw the connection come from inside the namespace (from B) ...
        assert conn_line.split()[0] == "127.0.0.1" and conn_line.split()[-1] == str(target.port)
        # ... and runs in it
        assert chain["ns_addr"] in addrs
        assert isinstance(t, SSHTransport)
        hops = [h.host for h in _hops(t)]
        assert hops == ["127.0.0.1", chain["ns_addr"], "127.0.0.1"]
    finally:
        t.close()
    # B forwarded to the target (its log shows the direct-tcpip request)
    deadline = time.monotonic() + 5
    while "direct-tcpip" not in chain["b_log"].read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = chain["b_log"].read_text()
    assert "direct-tcpip" in log and f"127.0.0.1 port {target.port}" in log


def _hops(t: SSHTransport) -> list:
    from hostprep.transport.connection import chain_of as _chain

    return list(reversed(_chain(t.connect())))


def test_proxyjump_chain_from_ssh_config(chain: dict, tmp_path: Path) -> None:
    a, b, target = chain["a"], chain["b"], chain["target"]
    cfg = _ssh_config(tmp_path / "config", f"""
Host app
  HostName 127.0.0.1
  Port {target.port}
  ProxyJump jumpa,jumpb
Host jumpa
  HostName 127.0.0.1
  Port {a.port}
Host jumpb
  HostName {chain['ns_addr']}
  Port {b.port}
Host *
  User root
  IdentityFile {a.client_key}
  UserKnownHostsFile {chain['known']}
""")
    t = open_transport("app", layered({}, ConnectionOptions(ssh_config=str(cfg))))
    _assert_inside_namespace(t, chain)


def test_proxycommand_from_ssh_args(chain: dict) -> None:
    b, target = chain["b"], chain["target"]
    proxy = (f"ssh -i {b.client_key} -o UserKnownHostsFile={chain['known']} -o StrictHostKeyChecking=yes "
             f"-o BatchMode=yes -p {b.port} -W %h:%p root@{chain['ns_addr']}")
    hv = target.hostvars(ansible_ssh_common_args=f"-o UserKnownHostsFile={chain['known']} -o 'ProxyCommand={proxy}'")
    t = open_transport("target", hv)
    _assert_inside_namespace(t, chain)


def test_proxyjump_of_a_hop_and_host_star_loop(chain: dict, tmp_path: Path) -> None:
    # app jumps via jumpb; jumpb, through `Host *`, via jumpa; jumpa's own `Host *` ProxyJump
    # names itself (a common ssh_config) and must not loop
    a, b, target = chain["a"], chain["b"], chain["target"]
    cfg = _ssh_config(tmp_path / "config", f"""
Host app
  HostName 127.0.0.1
  Port {target.port}
  ProxyJump jumpb
Host jumpb
  HostName {chain['ns_addr']}
  Port {b.port}
Host jumpa
  HostName 127.0.0.1
  Port {a.port}
Host *
  ProxyJump jumpa
  User root
  IdentityFile {a.client_key}
  UserKnownHostsFile {chain['known']}
""")
    t = open_transport("app", layered({}, ConnectionOptions(ssh_config=str(cfg))))
    try:
        _assert_inside_namespace(t, chain, close=False)
        assert isinstance(t, SSHTransport)
        assert [(h.host, h.port) for h in _hops(t)] == [("127.0.0.1", a.port), (chain["ns_addr"], b.port),
                                                        ("127.0.0.1", target.port)]
    finally:
        t.close()


def test_hop_host_keys_are_checked(chain: dict, tmp_path: Path) -> None:
    a, b, target = chain["a"], chain["b"], chain["target"]
    jumps = f"root@127.0.0.1:{a.port},root@{chain['ns_addr']}:{b.port}"
    # known_hosts without B's key: strict refuses, naming B and its fingerprint
    known = tmp_path / "known_hosts"
    known.write_text(a.known_hosts.read_text() + target.known_hosts.read_text())
    hv = target.hostvars(ansible_ssh_common_args=f"-o UserKnownHostsFile={known} -J {jumps}")
    t = open_transport("target", hv)
    with pytest.raises(HostKeyError) as info:
        t.run("true")
    assert f"[{chain['ns_addr']}]:{b.port}" in str(info.value)
    assert _fp(b.host_pub) in str(info.value)
    # accept-new records B's key (and only B's: the others are known)
    before = known.read_text()
    t = open_transport("target", layered(hv, ConnectionOptions(host_key_policy="accept-new")))
    try:
        assert t.run("true").rc == 0
    finally:
        t.close()
    added = known.read_text()[len(before):]
    _assert_recorded(added, f"[{chain['ns_addr']}]:{b.port}", b.host_pub)
    # a changed key on hop A is refused even with host key checking off
    wrong = tmp_path / "wrong"
    wrong.write_text(known.read_text().replace(a.host_pub, _other_pub(tmp_path)))
    hv = target.hostvars(ansible_ssh_common_args=f"-o UserKnownHostsFile={wrong} -J {jumps}")
    t = open_transport("target", layered(hv, ConnectionOptions(host_key_policy="off")))
    with pytest.raises(HostKeyError, match=rf"host key for \[127.0.0.1\]:{a.port} CHANGED"):
        t.run("true")


# -- host keys on the target -----------------------------------------------------------------
def _assert_recorded(text: str, name: str, pub: str) -> None:
    """`text` is exactly one known_hosts line for `name` with key `pub` (plain, or hashed when
    ssh_config says HashKnownHosts yes, as Debian's /etc/ssh/ssh_config does)."""
    import paramiko

    assert text.endswith("\n") and text.count("\n") == 1, text
    entry = paramiko.hostkeys.HostKeyEntry.from_line(text.strip())
    assert entry is not None and " ".join([entry.key.get_name(), entry.key.get_base64()]) == pub
    hosts = paramiko.HostKeys()
    hosts.add(entry.hostnames[0], entry.key.get_name(), entry.key)
    assert entry.hostnames[0] == name or entry.hostnames[0].startswith("|1|")
    assert hosts.lookup(name) is not None, f"{text!r} is not an entry for {name}"


def _fp(pub: str) -> str:
    return subprocess.run(["ssh-keygen", "-lf", "-"], input=pub, capture_output=True, text=True,
                          check=True).stdout.split()[1]


def _other_pub(tmp_path: Path) -> str:
    key = tmp_path / f"other{time.monotonic_ns()}"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return " ".join(Path(f"{key}.pub").read_text().split()[:2])


@pytest.mark.parametrize("policy", ["strict", "accept-new", "off"])
def test_changed_key_is_refused_under_every_policy(sshd: LoopbackSshd, tmp_path: Path, policy: str) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {_other_pub(tmp_path)}\n")
    before = known.read_text()
    hv = sshd.hostvars(ansible_ssh_common_args=f"-o UserKnownHostsFile={known}")
    t = open_transport("lo", layered(hv, ConnectionOptions(host_key_policy=policy)))
    with pytest.raises(HostKeyError, match="CHANGED") as info:
        t.run("true")
    assert _fp(sshd.host_pub) in str(info.value)
    assert known.read_text() == before


def test_off_warns_once_and_records_nothing(sshd: LoopbackSshd, tmp_path: Path,
                                            capfd: pytest.CaptureFixture) -> None:
    reset_warnings()
    known = tmp_path / "known_hosts"
    hv = sshd.hostvars(ansible_ssh_common_args=f"-o UserKnownHostsFile={known}")
    for _ in range(3):
        t = open_transport("lo", layered(hv, ConnectionOptions(host_key_policy="off")))
        try:
            assert t.run("true").rc == 0
        finally:
            t.close()
    err = capfd.readouterr().err
    assert err.count("host key checking is OFF") == 1
    assert not known.exists()
    reset_warnings()


def test_accept_new_from_many_workers_records_the_key_once(sshd: LoopbackSshd, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("# existing line without newline")
    hv = sshd.hostvars(ansible_ssh_common_args=f"-o UserKnownHostsFile={known} -o StrictHostKeyChecking=accept-new")
    results: list[object] = []

    def one() -> None:
        t = open_transport("lo", hv)
        try:
            results.append(t.run("true").rc)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            results.append(exc)
        finally:
            t.close()

    threads = [threading.Thread(target=one) for _ in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results == [0] * 12
    first, rest = known.read_text().split("\n", 1)
    assert first == "# existing line without newline"
    _assert_recorded(rest, f"[127.0.0.1]:{sshd.port}", sshd.host_pub)
    # and later strict runs accept it
    t = open_transport("lo", sshd.hostvars(ansible_ssh_common_args=f"-o UserKnownHostsFile={known}"))
    try:
        assert t.run("true").rc == 0
    finally:
        t.close()


# -- files -----------------------------------------------------------------------------------
@pytest.fixture
def shared_dir():
    """A directory another user (nobody) can write into; removed afterwards."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="hpft-shared-", dir="/tmp"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path)


@pytest.mark.parametrize("become", [None, "root", "nobody"], ids=["sftp", "become-same-user", "sudo-sftp"])
def test_large_upload_is_streamed_and_verified(sshd: LoopbackSshd, tmp_path: Path, shared_dir: Path,
                                               become: str | None) -> None:
    src = tmp_path / "big.bin"
    with open(src, "wb") as handle:
        for _ in range(100):
            handle.write(os.urandom(1 << 20))
    dest = shared_dir / "dest" / "big.bin"
    dest.parent.mkdir()
    dest.parent.chmod(0o777)
    dest.write_bytes(b"old")
    dest.chmod(0o666)
    t = open_transport("lo", sshd.hostvars())
    spec = BecomeSpec(enabled=True, user=become) if become else None
    try:
        tracemalloc.start()
        with open(src, "rb") as handle:
            t.put(handle, str(dest), mode="0640", owner="nobody" if become else None, become=spec)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 32 << 20, f"upload held {peak >> 20} MiB in memory"
        assert _sha(dest) == _sha(src)
        st = dest.stat()
        assert oct(st.st_mode & 0o777) == "0o640"
        assert isinstance(t, SSHTransport)
        if become:
            import pwd

            assert st.st_uid == pwd.getpwnam("nobody").pw_uid
        # as nobody the bytes went through an SFTP session running as nobody (sudo sftp-server);
        # logged in as root, becoming root needs no second session
        assert bool(t._become_sftp) == (become == "nobody")
        assert sorted(p.name for p in dest.parent.iterdir()) == ["big.bin"]
        res = t.run(f"sha256sum {dest}")
        assert res.stdout.split()[0] == _sha(src)
    finally:
        t.close()


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class _Interrupted(KeyboardInterrupt):
    pass


class _BreaksAfter:
    """A file that raises Ctrl-C's exception part-way through being read."""

    def __init__(self, path: Path, limit: int) -> None:
        self._f = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._limit = limit
        self._read = 0

    def tell(self) -> int:
        return self._f.tell()

    def seek(self, *args: int) -> int:
        return self._f.seek(*args)

    def fileno(self) -> int:
        return self._f.fileno()

    def read(self, n: int = -1) -> bytes:
        if self._read >= self._limit:
            raise _Interrupted()
        data = self._f.read(n)
        self._read += len(data)
        return data

    def close(self) -> None:
        self._f.close()


@pytest.mark.parametrize("become", [False, True], ids=["sftp", "sudo-sftp"])
def test_interrupted_upload_leaves_dest_and_no_temp(sshd: LoopbackSshd, tmp_path: Path, shared_dir: Path,
                                                    become: bool) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(20 << 20))
    dest = shared_dir / "d" / "conf"
    dest.parent.mkdir()
    dest.parent.chmod(0o777)
    dest.write_bytes(b"the old content\n")
    t = open_transport("lo", sshd.hostvars())
    f = _BreaksAfter(src, 5 << 20)
    try:
        with pytest.raises(_Interrupted):
            t.put(f, str(dest), become=BecomeSpec(enabled=True, user="nobody") if become else None)
        assert isinstance(t, SSHTransport) and bool(t._become_sftp) == become
        assert dest.read_bytes() == b"the old content\n"
        assert sorted(p.name for p in dest.parent.iterdir()) == ["conf"]
        # the connection is still good for the next write
        t.put(b"new\n", str(dest))
        assert dest.read_bytes() == b"new\n"
    finally:
        f.close()
        t.close()


def test_connection_lost_mid_upload_never_half_writes_dest(sshd: LoopbackSshd, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    with open(src, "wb") as handle:
        for _ in range(200):
            handle.write(os.urandom(1 << 20))
    dest = tmp_path / "d" / "conf"
    dest.parent.mkdir()
    dest.write_bytes(b"the old content\n")
    t = open_transport("lo", sshd.hostvars())
    assert isinstance(t, SSHTransport)
    t.run("true")

    def uploading() -> bool:
        """The event the cut waits for: the temporary file beside dest has begun to fill."""
        return any(p.name.startswith(".hostprep-") and p.stat().st_size > 0 for p in dest.parent.iterdir())

    def cut() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if uploading():
                    break
            except FileNotFoundError:  # the temporary file renamed or removed between listing and stat
                pass
            time.sleep(0.005)
        t._conn.client.get_transport().sock.close()  # the network goes away under the upload

    killer = threading.Thread(target=cut)
    killer.start()
    try:
        with open(src, "rb") as handle, pytest.raises((UnreachableError, TransportError)):
            t.put(handle, str(dest))
    finally:
        killer.join()
        t.close()
    assert dest.read_bytes() == b"the old content\n"
    left = sorted(p.name for p in dest.parent.iterdir())
    assert all(n == "conf" or n.startswith(".hostprep-") for n in left), left
    # a later run still works: the transport reconnects
    t2 = open_transport("lo", sshd.hostvars())
    try:
        t2.put(b"new\n", str(dest))
        assert dest.read_bytes() == b"new\n"
    finally:
        t2.close()


def test_finish_script_refuses_a_corrupt_temp_file(tmp_path: Path) -> None:
    dest = tmp_path / "conf"
    dest.write_text("old\n")
    tmp = tmp_path / ".hostprep-abc"
    tmp.write_text("arrived damaged\n")
    want = hashlib.sha256(b"what was sent\n").hexdigest()
    res = LocalTransport().run(finish_script(str(tmp), str(dest), want, "0600", None, None))
    assert res.rc == 97 and "checksum mismatch" in res.stderr
    assert dest.read_text() == "old\n" and not tmp.exists()
    good = hashlib.sha256(b"arrived damaged\n").hexdigest()
    tmp.write_text("arrived damaged\n")
    res = LocalTransport().run(finish_script(str(tmp), str(dest), good, "0600", None, None))
    assert res.rc == 0 and dest.read_text() == "arrived damaged\n" and not tmp.exists()


def test_become_password_is_not_fed_to_a_command_when_sudo_does_not_ask(sshd: LoopbackSshd) -> None:
    # root's sudo never prompts: the password must not end up on the command's stdin
    t = open_transport("lo", sshd.hostvars())
    try:
        res = t.run("cat", become=BecomeSpec(enabled=True, password="s3cret-never-shown"), stdin=b"payload\n")
        assert (res.rc, res.stdout) == (0, "payload\n"), res
        assert "s3cret" not in res.stderr
    finally:
        t.close()


# -- Ansible as the oracle for who wins: -u, inventory, -e -------------------------------------
ORACLE_PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - raw: id -un
      register: who
      ignore_errors: true
    - debug:
        msg: "who={{ who.stdout | trim }}"
"""


def _who_hostprep(inv: Path, book: Path, args: list[str]) -> str:
    import json
    import sys

    proc = subprocess.run([str(Path(sys.executable).parent / "hostprep"), "apply", "-i", str(inv), str(book),
                           "--json", *args], capture_output=True, text=True, timeout=120)
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            e = json.loads(line)
            if e.get("event") == "task_result" and e.get("status") == "unreachable":
                return "UNREACHABLE"
            if e.get("event") == "task_result" and "msg" in e.get("result", {}):
                return e["result"]["msg"]
    raise AssertionError(proc.stdout[-2000:] + proc.stderr[-2000:])


def _who_ansible(inv: Path, book: Path, args: list[str], tmp_path: Path) -> str:
    import re
    import shutil
    import sys

    exe = Path(sys.executable).parent / "ansible-playbook"
    if not exe.exists() and not shutil.which("ansible-playbook"):
        raise RuntimeError("ansible-playbook is needed as the oracle: install ansible-core in the venv")
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="minimal", ANSIBLE_SSH_CONTROL_PATH_DIR=str(tmp_path / "cp"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "at"), ANSIBLE_HOST_KEY_CHECKING="True")
    proc = subprocess.run([str(exe if exe.exists() else "ansible-playbook"), "-i", str(inv), str(book), *args],
                          capture_output=True, text=True, timeout=120, env=env)
    if "UNREACHABLE!" in proc.stdout:
        return "UNREACHABLE"
    found = re.findall(r'"msg": "(who=[^"]*)"', proc.stdout)
    assert len(found) == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    return found[0]


@pytest.mark.parametrize(("inv_user", "args"), [
    ("root", ["-u", "nobody"]),
    (None, ["-u", "root"]),
    (None, ["-u", "nobody"]),
    ("nobody", ["-u", "nobody", "-e", "ansible_user=root"]),
])
def test_user_precedence_matches_ansible(sshd: LoopbackSshd, tmp_path: Path, inv_user: str | None,
                                         args: list[str]) -> None:
    line = (f"lo ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_ssh_private_key_file={sshd.client_key} "
            f"ansible_ssh_common_args='-o UserKnownHostsFile={sshd.known_hosts} -o StrictHostKeyChecking=yes'")
    if inv_user:
        line += f" ansible_user={inv_user}"
    inv = tmp_path / "hosts.ini"
    inv.write_text(f"[all]\n{line}\n")
    book = tmp_path / "play.yml"
    book.write_text(ORACLE_PLAY)
    ours, theirs = _who_hostprep(inv, book, args), _who_ansible(inv, book, args, tmp_path)
    assert ours == theirs
    # sshd refuses `nobody` (a locked account): whoever wins, "root" or "UNREACHABLE" tells them apart
    root_wins = inv_user == "root" or (inv_user is None and args[1] == "root") or "ansible_user=root" in args
    assert ours == ("who=root" if root_wins else "UNREACHABLE")


def _children_running(ancestor: int, comm: str) -> bool:
    """Whether a process named `comm` runs below `ancestor` (walking /proc parent links)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != comm:
                continue
            pid = int(entry.name)
            while pid > 1:
                pid = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if pid == ancestor:
                    return True
        except (OSError, ValueError, IndexError):
            continue
    return False


def test_sshd_killed_mid_command_is_unreachable_then_reconnects(sshd: LoopbackSshd) -> None:
    import signal

    t = open_transport("lo", sshd.hostvars())
    try:
        session = int(t.run("echo $PPID").stdout)  # this connection's sshd process (a child of our sshd)
        assert session != sshd.proc.pid

        def kill() -> None:
            # once the command runs under this connection (its `sleep 20` is seen), not after a guessed delay
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not _children_running(session, "sleep"):
                time.sleep(0.02)
            os.kill(session, signal.SIGKILL)

        killer = threading.Thread(target=kill)
        killer.start()
        start = time.monotonic()
        with pytest.raises(UnreachableError, match="lost"):
            t.run("sleep 20")
        killer.join()
        assert time.monotonic() - start < 19  # reported when the connection died, not when `sleep 20` ended
        # the next command opens a new connection
        assert t.run("echo again").stdout == "again\n"
    finally:
        t.close()


def test_cli_host_key_policy(sshd: LoopbackSshd, tmp_path: Path) -> None:
    import sys

    known = tmp_path / "known_hosts"
    known.write_text("")
    inv = tmp_path / "hosts.ini"
    common = (f"ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user=root "
              f"ansible_ssh_private_key_file={sshd.client_key} ansible_ssh_common_args='-o UserKnownHostsFile={known}'")
    inv.write_text("[all]\n" + "".join(f"h{i} {common}\n" for i in range(3)))
    book = tmp_path / "play.yml"
    book.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n    - command: 'true'\n")
    exe = str(Path(sys.executable).parent / "hostprep")

    def apply(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([exe, "apply", "-i", str(inv), str(book), *args], capture_output=True, text=True,
                              timeout=120)

    strict = apply()
    assert strict.returncode == 4, strict.stdout[-2000:]
    assert _fp(sshd.host_pub) in strict.stdout + strict.stderr
    off = apply("--host-key-policy", "off")
    assert off.returncode == 0, off.stdout[-2000:] + off.stderr[-2000:]
    assert off.stderr.count("host key checking is OFF") == 1, off.stderr
    assert known.read_text() == ""
    new = apply("--host-key-policy", "accept-new", "--json")
    assert new.returncode == 0, new.stdout[-2000:]
    _assert_recorded(known.read_text(), f"[127.0.0.1]:{sshd.port}", sshd.host_pub)  # three hosts, one line
    assert apply().returncode == 0
    # a changed key is refused even with --host-key-policy off
    known.write_text(f"[127.0.0.1]:{sshd.port} {_other_pub(tmp_path)}\n")
    changed = apply("--host-key-policy", "off")
    assert changed.returncode == 4 and "CHANGED" in changed.stdout + changed.stderr
