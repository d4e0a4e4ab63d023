"""The SSH transport against a real sshd on loopback: commands, files, host keys, become."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from hostprep.errors import HostKeyError, UnreachableError
from hostprep.transport.base import BecomeSpec
from hostprep.transport.connect import open_transport
from tests.integration.loopback_sshd import LoopbackSshd, free_port, running_sshd, start_sshd


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory):
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


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


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _sshd_children(sshd: LoopbackSshd) -> set[int]:
    """The listener's children: one per SSH connection it serves."""
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if _ppid(int(entry.name)) == sshd.proc.pid:
                    out.add(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
    return out


def _connection_of(sshd: LoopbackSshd, pid: int) -> int:
    """The listener's child (the per-connection sshd) that `pid` descends from."""
    while pid > 1:
        parent = _ppid(pid)
        if parent == sshd.proc.pid:
            return pid
        pid = parent
    raise AssertionError("not a process of the test's sshd")


def test_connection_is_reused(sshd: LoopbackSshd) -> None:
    """Shown on the host: every command's shell has the same parent (the sshd process of one connection), and
    the listener serves exactly one connection more while the transport runs; a second transport gets another."""
    deadline = time.monotonic() + 10
    while _sshd_children(sshd):  # connections of earlier tests (and the start-up probe) end first
        assert time.monotonic() < deadline, f"sshd still serves {_sshd_children(sshd)}"
        time.sleep(0.05)
    t = open_transport("lo", sshd.hostvars())
    other = open_transport("lo", sshd.hostvars())
    try:
        parents = [int(t.run("echo $PPID").stdout) for _ in range(3)]
        assert len(set(parents)) == 1, parents
        conn = _connection_of(sshd, parents[0])
        assert _sshd_children(sshd) == {conn}
        assert t.round_trips == 3
        second = int(other.run("echo $PPID").stdout)
        assert _connection_of(sshd, second) != conn  # the check tells connections apart
        assert _sshd_children(sshd) == {conn, _connection_of(sshd, second)}
    finally:
        t.close()
        other.close()


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
    hv = sshd.hostvars(ansible_port=free_port())
    t = open_transport("lo", hv)
    t.settings.connect_retries = 0
    with pytest.raises(UnreachableError):
        t.run("true")


# -- su and sudo from an unprivileged login, with real passwords ---------------------------------
# sshd runs in a private mount namespace in which /etc/passwd, shadow, group and sudoers.d are
# this test's copies: a login user `hpsu` with a sudo password, and root with a password for su.
# The machine's own files are never changed (the bind mounts exist only for that sshd and its sessions).
ROOT_PW = "root-pw-" + os.urandom(4).hex()
USER_PW = "user-pw-" + os.urandom(4).hex()


def _hash(password: str) -> str:
    return subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture(scope="module")
def users_sshd():
    if os.geteuid() != 0:
        raise RuntimeError("these tests need root (a mount namespace for sshd): run the suite as root")
    # not under pytest's 0700 tmp dir: hpsu's sshd session must read the authorized keys and enter its home
    base = Path(tempfile.mkdtemp(prefix="hostprep-users-"))
    os.chmod(base, 0o755)
    used = {int(line.split(":")[2]) for line in Path("/etc/passwd").read_text().splitlines() if line.count(":") >= 6}
    uid = next(i for i in range(4242, 60000) if i not in used)
    home = base / "home"
    home.mkdir()
    os.chown(home, uid, uid)
    etc = base / "etc"
    etc.mkdir()
    shadow = [f"root:{_hash(ROOT_PW)}:{line.split(':', 2)[2]}" if line.startswith("root:") else line
              for line in Path("/etc/shadow").read_text().splitlines()]
    (etc / "shadow").write_text("\n".join([*shadow, f"hpsu:{_hash(USER_PW)}:19000:0:99999:7:::"]) + "\n")
    os.chmod(etc / "shadow", 0o640)
    (etc / "passwd").write_text(Path("/etc/passwd").read_text() + f"hpsu:x:{uid}:{uid}:hostprep test:{home}:/bin/sh\n")
    (etc / "group").write_text(Path("/etc/group").read_text() + f"hpsu:x:{uid}:\n")
    sudoers = etc / "sudoers.d"
    sudoers.mkdir(mode=0o750)
    (sudoers / "hpsu").write_text("hpsu ALL=(ALL) ALL\n")
    os.chmod(sudoers / "hpsu", 0o440)
    binds = " && ".join(f'mount --bind "{etc / name}" /etc/{name}' for name in ("passwd", "shadow", "group",
                                                                                  "sudoers.d"))
    wrapper = ("unshare", "-m", "--propagation", "private", "sh", "-c", f'{binds} && exec "$@"', "sh")
    server = start_sshd(base / "sshd", wrapper=wrapper)
    os.chmod(base / "sshd" / "authorized_keys", 0o644)  # read by sshd as the login user
    # a directory only root may enter: where su/sudo must write
    private = base / "private"
    private.mkdir(mode=0o700)
    try:
        yield server, private
    finally:
        server.stop()
        shutil.rmtree(base)


def _su(password: str | None = ROOT_PW) -> BecomeSpec:
    return BecomeSpec(enabled=True, method="su", password=password)


def test_su_from_an_unprivileged_user(users_sshd) -> None:
    sshd, private = users_sshd
    t = open_transport("lo", sshd.hostvars(ansible_user="hpsu"))
    try:
        assert t.run("id -un").stdout == "hpsu\n"
        res = t.run("id -un; echo err >&2; exit 3", become=_su())
        assert (res.rc, res.stdout, res.stderr) == (3, "root\n", "err\n")
        # stdin reaches the command byte for byte (through the pty), and the password never does
        data = os.urandom(200_000)
        res = t.run("cat | sha256sum", become=_su(), stdin=data)
        assert res.stdout.split()[0] == hashlib.sha256(data).hexdigest(), res
        assert ROOT_PW not in res.stdout + res.stderr
        # files as root: written where only root may, atomically, with mode and owner
        dest = private / "by-su.conf"
        t.put(b"written through su\n", str(dest), mode="0640", become=_su())
        assert dest.read_bytes() == b"written through su\n"
        assert (dest.stat().st_uid, oct(dest.stat().st_mode & 0o777)) == (0, "0o640")
        assert t.get(str(dest), become=_su()) == b"written through su\n"
        assert sorted(p.name for p in private.iterdir()) == ["by-su.conf"]
    finally:
        t.close()


def test_su_wrong_or_missing_password_is_reported_not_hung(users_sshd) -> None:
    sshd, _ = users_sshd
    t = open_transport("lo", sshd.hostvars(ansible_user="hpsu"))
    try:
        res = t.run("echo never", become=_su("not-the-password"))
        assert res.rc != 0 and not res.started and "never" not in res.stdout
        assert "su refused the become password" in res.stderr and "not-the-password" not in res.stderr
        start = time.monotonic()
        res = t.run("echo never", become=_su(None))
        assert res.rc != 0 and "su asked for a password and none was given" in res.stderr
        assert time.monotonic() - start < 60  # a generous bound: a prompt waited on would never end
        # the connection is still good
        assert t.run("id -un", become=_su()).stdout == "root\n"
    finally:
        t.close()


def test_sudo_with_a_password_from_an_unprivileged_user(users_sshd) -> None:
    sshd, private = users_sshd
    t = open_transport("lo", sshd.hostvars(ansible_user="hpsu"))
    try:
        sudo = BecomeSpec(enabled=True, password=USER_PW)
        res = t.run("id -un; cat", become=sudo, stdin=b"payload\n")
        assert (res.rc, res.stdout) == (0, "root\npayload\n"), res
        assert USER_PW not in res.stdout + res.stderr
        t.put(b"by sudo sftp\n", str(private / "by-sudo"), become=sudo)
        assert (private / "by-sudo").read_bytes() == b"by sudo sftp\n" and t._become_sftp
        res = t.run("echo never", become=BecomeSpec(enabled=True, password="wrong"))
        assert res.rc != 0 and not res.started and "sudo refused the become password" in res.stderr
    finally:
        t.close()


# -- the same through `hostprep apply`, Ansible as the oracle where it applies --------------------
def _inventory(tmp_path: Path, sshd: LoopbackSshd, extra: str = "") -> Path:
    inv = tmp_path / "hosts.ini"
    inv.write_text(f"[all]\nlo ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user=hpsu "
                   f"ansible_ssh_private_key_file={sshd.client_key} ansible_python_interpreter=/usr/bin/python3 "
                   f"ansible_ssh_common_args='-o UserKnownHostsFile={sshd.known_hosts}' {extra}\n")
    return inv


def _hostprep(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    exe = str(Path(sys.executable).parent / "hostprep")
    return subprocess.run([exe, "apply", *args], capture_output=True, text=True, timeout=120, input=stdin or "")


def _first_failure_ansible(inv: Path, book: Path, tmp_path: Path) -> str:
    exe = Path(sys.executable).parent / "ansible-playbook"
    if not exe.exists():
        raise RuntimeError("ansible-playbook is needed as the oracle: install ansible-core in the venv")
    env = dict(os.environ, ANSIBLE_SSH_CONTROL_PATH_DIR=str(tmp_path / "cp"), ANSIBLE_LOCAL_TEMP=str(tmp_path / "at"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_HOST_KEY_CHECKING="True")
    proc = subprocess.run([str(exe), "-i", str(inv), str(book)], capture_output=True, text=True, timeout=180, env=env)
    task = None
    for line in proc.stdout.splitlines():
        if line.startswith("TASK ["):
            task = line[len("TASK ["):line.index("]")]
        elif line.startswith(("fatal: [lo]", "failed: [lo]")):
            return f"{task}: {line}"
    raise AssertionError(proc.stdout[-3000:] + proc.stderr[-2000:])


def test_wrong_sudo_password_fails_at_gathering_facts_like_ansible(users_sshd, tmp_path: Path) -> None:
    sshd, _ = users_sshd
    marker = tmp_path / "task-ran"
    inv = _inventory(tmp_path, sshd, "ansible_become_password=not-the-password")
    book = tmp_path / "play.yml"
    book.write_text(f"- hosts: all\n  become: true\n  tasks:\n    - file: path={marker} state=touch mode='0666'\n")
    proc = _hostprep("-i", str(inv), str(book), "--json")
    failed = [json.loads(line) for line in proc.stdout.splitlines()
              if line.startswith("{") and '"task_result"' in line and '"failed"' in line]
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert [(e["task"], e["status"]) for e in failed] == [("Gathering Facts", "failed")]
    assert "sudo refused the become password" in failed[0]["result"]["msg"]
    assert "not-the-password" not in proc.stdout + proc.stderr
    assert not marker.exists()
    theirs = _first_failure_ansible(inv, book, tmp_path)
    assert theirs.startswith("Gathering Facts: fatal: [lo]") and "password" in theirs.lower(), theirs
    assert not marker.exists()


def test_ask_become_pass_with_become_method_su(users_sshd, tmp_path: Path) -> None:
    sshd, private = users_sshd
    inv = _inventory(tmp_path, sshd)
    dest = private / "from-apply"
    book = tmp_path / "play.yml"
    book.write_text("- hosts: all\n  become: true\n  tasks:\n"
                    f"    - copy: content='as root' dest={dest} mode='0600'\n"
                    "    - command: id -un\n      register: who\n      changed_when: false\n"
                    "    - debug: msg='who={{ who.stdout }} uid={{ ansible_facts.user_uid }}'\n")
    proc = _hostprep("-i", str(inv), str(book), "--json", "-K", "--become-method", "su", stdin=ROOT_PW + "\n")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    msgs = [json.loads(line)["result"].get("msg") for line in proc.stdout.splitlines()
            if line.startswith("{") and '"task_result"' in line]
    assert "who=root uid=0" in msgs, msgs  # facts, too, were gathered as root
    assert dest.read_text() == "as root" and dest.stat().st_uid == 0
    assert ROOT_PW not in proc.stdout + proc.stderr
    # a play's become_method wins over --become-method: sudo with -K's (root) password fails for hpsu
    book.write_text("- hosts: all\n  become: true\n  become_method: sudo\n  gather_facts: false\n"
                    "  tasks:\n    - command: id -un\n")
    proc = _hostprep("-i", str(inv), str(book), "-K", "--become-method", "su", stdin=ROOT_PW + "\n")
    assert proc.returncode == 1 and "sudo refused the become password" in proc.stdout, proc.stdout[-2000:]


@pytest.mark.parametrize(("where", "text"), [
    ("play", "- hosts: all\n  become_method: runas\n  tasks:\n    - command: 'true'\n"),
    ("task", "- hosts: all\n  tasks:\n    - command: 'true'\n      become: true\n      become_method: pbrun\n"),
    ("block", "- hosts: all\n  tasks:\n    - block:\n        - command: 'true'\n      become_method: doas\n"),
])
def test_unsupported_become_method_is_refused_before_any_contact(tmp_path: Path, where: str, text: str) -> None:
    inv = tmp_path / "hosts.ini"
    inv.write_text(f"[all]\nlo ansible_host=127.0.0.1 ansible_port={free_port()}\n")  # nothing listens there
    book = tmp_path / "play.yml"
    book.write_text(text)
    proc = _hostprep("-i", str(inv), str(book))
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "become_method" in row)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"{book}:{line}: become_method:" in proc.stderr and "hostprep supports: sudo, su" in proc.stderr


def test_unsupported_become_method_in_inventory_is_refused_before_any_contact(tmp_path: Path) -> None:
    inv = tmp_path / "hosts.ini"
    inv.write_text(f"[all]\nlo ansible_host=127.0.0.1 ansible_port={free_port()} ansible_become_method=machinectl\n")
    book = tmp_path / "play.yml"
    book.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n    - command: 'true'\n")
    proc = _hostprep("-i", str(inv), str(book))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "host lo: become_method 'machinectl' is an Ansible become plugin" in proc.stderr


def test_the_connection_sends_its_packets_without_delay(sshd: LoopbackSshd) -> None:
    """TCP_NODELAY: each command of a run opens a new session channel, and with Nagle's algorithm the
    channel-open waited for the host's delayed ACK (about 30-40 ms a command, more than a probe batch takes on
    a lab host; loopback acknowledges at once, so only the option is checked here)."""
    t = open_transport("lo", sshd.hostvars())
    try:
        assert t.run("true").rc == 0
        transport = t.link.conn.client.get_transport()
        assert transport.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert t.run("echo again").stdout == "again\n"
    finally:
        t.close()


def test_keepalives_go_once_per_interval_of_silence(sshd: LoopbackSshd) -> None:
    """ServerAliveInterval as OpenSSH's: one keepalive per interval in which nothing came from the host, a
    reply counting as something heard. hostprep asked again at every wake (once a second) of a command silent
    for more than one interval: a thread and a request per second per host while dnf ran, a fifth of the
    control node's CPU at 50 hosts. A command silent for 9 s with a 2 s interval is asked about at about 2, 5
    and 8 s (the waits wake once a second); the old behaviour asked 7 times. The command still succeeds."""
    hv = sshd.hostvars()
    hv["ansible_ssh_common_args"] = (str(hv.get("ansible_ssh_common_args", "")) + " -o ServerAliveInterval=2").strip()
    t = open_transport("lo", hv)
    try:
        res = t.run("sleep 9; echo done")
        assert (res.rc, res.stdout) == (0, "done\n")
        live = t.link._live
        assert live is not None and live.interval == 2
        assert 2 <= live.asked <= 4, live.asked
    finally:
        t.close()
