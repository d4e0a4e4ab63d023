"""Become, files and the connection flags on a real EL9 lab host over SSH, as `deploy` (sudo with a
password) and root: sudo with and without a password, another become_user, a wrong password, a
sudoers with `requiretty`, the password never in output/--json/the host's process list, and
`hostprep apply -u/-k/-K/-b/--become-user` with Ansible's precedence."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml

from hostprep.lab import paths
from hostprep.transport.base import BecomeSpec
from hostprep.transport.connect import become_from_vars, open_transport
from hostprep.transport.ssh import SSHTransport
from tests.integration.labutil import BIN, ssh

REQUIRETTY = "/etc/sudoers.d/zz-hostprep-requiretty"


@pytest.fixture(scope="module")
def host(lab):
    (h,) = lab.up(1, "el9", "ftr")
    res = ssh(h, "useradd -m hpftuser 2>/dev/null; id -un hpftuser")
    assert res.stdout.strip() == "hpftuser", res.stderr
    return h


def _deploy(host) -> tuple[SSHTransport, BecomeSpec]:
    t = open_transport(host.name, host.deploy_hostvars)
    assert isinstance(t, SSHTransport)
    return t, become_from_vars(host.deploy_hostvars)


class _PsWatch:
    """Samples the host's full process list (as root, on its own connection) while a command runs."""

    def __init__(self, host, needle: str) -> None:
        self.host, self.needle = host, needle
        self.samples: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop)

    def _loop(self) -> None:
        t = open_transport(self.host.name, self.host.hostvars)
        try:
            while not self._stop.is_set():
                self.samples.append(t.run("ps -eww -o pid,user,args; cat /proc/[0-9]*/cmdline 2>/dev/null | "
                                          "tr '\\0' ' '").stdout)
                time.sleep(0.2)
        finally:
            t.close()

    def __enter__(self) -> _PsWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def saw_command(self) -> bool:
        return any(self.needle in s for s in self.samples)


def test_sudo_with_password_and_other_users(host) -> None:
    t, become = _deploy(host)
    try:
        assert t.run("id -un").stdout == "deploy\n"
        res = t.run("id -un; echo err >&2; exit 3", become=become)
        assert (res.rc, res.stdout, res.stderr) == (3, "root\n", "err\n")
        for user in ("nobody", "hpftuser"):
            res = t.run("id -un", become=dataclasses.replace(become, user=user))
            assert (res.rc, res.stdout) == (0, f"{user}\n"), res
        data = os.urandom(2_000_000)
        res = t.run("sha256sum", become=become, stdin=data)
        assert res.stdout.split()[0] == hashlib.sha256(data).hexdigest()
        # a wrong password fails quickly and says so; the password is not in what comes back
        start = time.monotonic()
        res = t.run("id -un", become=dataclasses.replace(become, password="not-the-password-x1"))
        assert res.rc != 0 and "refused the become password" in res.stderr, res
        assert time.monotonic() - start < 60  # generous: a prompt waited on would never end
        assert "not-the-password-x1" not in res.stdout + res.stderr
        # no password at all: sudo -n fails at once instead of hanging on a prompt
        res = t.run("id -un", become=dataclasses.replace(become, password=None))
        assert res.rc == 1 and "password is required" in res.stderr, res
        assert not t.pty_become
    finally:
        t.close()


def test_sudo_without_password_as_root(host) -> None:
    t = open_transport(host.name, host.hostvars)
    try:
        res = t.run("id -un; cat", become=BecomeSpec(enabled=True, user="hpftuser", password="unused-pw-9"),
                    stdin=b"exactly this\n")
        assert (res.rc, res.stdout) == (0, "hpftuser\nexactly this\n"), res
    finally:
        t.close()


def test_password_never_in_the_process_list_or_results(host) -> None:
    t, become = _deploy(host)
    try:
        with _PsWatch(host, "sleep 2.5") as ps:
            res = t.run("sleep 2.5; echo finished", become=become, stdin=b"some stdin\n")
        assert res.stdout == "finished\n", res
        assert ps.saw_command(), "the process list was never sampled while the command ran"
        for sample in ps.samples:
            assert become.password not in sample
        assert become.password not in res.stdout + res.stderr
    finally:
        t.close()


@pytest.fixture
def requiretty(host):
    res = ssh(host, f"printf 'Defaults requiretty\\n' > {REQUIRETTY} && chmod 0440 {REQUIRETTY} && visudo -c")
    assert res.returncode == 0, res.stdout + res.stderr
    try:
        # the drop-in really bites: sudo without a tty is refused
        probe = ssh(host, "sudo -n -u nobody true", user="root")
        assert "must have a tty" in probe.stderr, probe.stderr
        yield
    finally:
        assert ssh(host, f"rm -f {REQUIRETTY}").returncode == 0


def test_requiretty_host_switches_to_a_pty(host, requiretty) -> None:
    t, become = _deploy(host)
    try:
        res = t.run("id -un; echo err >&2; printf 'no newline'; exit 5", become=become)
        assert (res.rc, res.stdout, res.stderr) == (5, "root\nno newline", "err\n"), res
        assert t.pty_become
        # binary stdin passes the pty unchanged (raw mode, framed by length)
        data = bytes(range(256)) * 4000 + b"\x03\x04\x1a\r\n\x00"
        res = t.run("sha256sum; wc -c >&2", become=become, stdin=data)
        assert res.stdout.split()[0] == hashlib.sha256(data).hexdigest(), res
        assert res.stderr.strip() == "0"  # sha256sum read it all
        res = t.run("printf 'a\\nb\\r\\n'; printf 'x\\ny' >&2", become=become)
        assert (res.stdout, res.stderr) == ("a\nb\r\n", "x\ny")
        res = t.run("id -un", become=dataclasses.replace(become, user="hpftuser"))
        assert (res.rc, res.stdout, res.stderr) == (0, "hpftuser\n", "")
        # files still go in atomically, verified, with mode and owner
        payload = os.urandom(3_000_000)
        t.put(payload, "/etc/hpft-tty.bin", mode="0600", owner="hpftuser", become=become)
        check = ssh(host, "stat -c '%a %U' /etc/hpft-tty.bin; sha256sum /etc/hpft-tty.bin; ls -a /etc | "
                          "grep -c hostprep-")
        assert check.stdout.split("\n")[:2] == ["600 hpftuser", f"{hashlib.sha256(payload).hexdigest()}  "
                                                                "/etc/hpft-tty.bin"]
        assert check.stdout.split("\n")[2] == "0"
        assert t.get("/etc/hpft-tty.bin", become=become) == payload
        # a wrong password is refused here too, without hanging
        res = t.run("id -un", become=dataclasses.replace(become, password="not-the-password-x2"))
        assert res.rc != 0 and "refused the become password" in res.stderr, res
        # and the password stays out of the process list (it goes into the pty, after the prompt)
        with _PsWatch(host, "sleep 2.5") as ps:
            res = t.run("sleep 2.5; echo finished", become=become)
        assert res.stdout == "finished\n" and ps.saw_command()
        assert all(become.password not in s for s in ps.samples)
    finally:
        t.close()


def test_large_upload_as_deploy_with_become(host, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    with open(src, "wb") as handle:
        for _ in range(100):
            handle.write(os.urandom(1 << 20))
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    t, become = _deploy(host)
    try:
        tracemalloc.start()
        with open(src, "rb") as handle:
            t.put(handle, "/opt/hpft-big.bin", mode="0640", become=become)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 32 << 20, f"upload held {peak >> 20} MiB in memory"
        assert t._become_sftp, "the upload did not go through an SFTP session as root"
    finally:
        t.close()
    res = ssh(host, "stat -c '%a %U' /opt/hpft-big.bin; sha256sum /opt/hpft-big.bin; ls -a /opt | grep -c hostprep-")
    assert res.stdout.split("\n")[:3] == ["640 root", f"{digest}  /opt/hpft-big.bin", "0"], res.stdout


# -- the command line ------------------------------------------------------------------------
PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: slow become
      command: sh -c 'sleep 2.5; id -un'
      check_mode: false
      register: slow
    - name: who without become
      command: id -un
      become: false
      check_mode: false
      register: plain
    - name: a file as the become user
      copy:
        content: "cli {{ inventory_hostname }}\\n"
        dest: /etc/hpft-cli.conf
        mode: "0600"
    - name: report
      debug:
        msg: "become={{ slow.stdout }} plain={{ plain.stdout }}"
"""


def _inventory(path: Path, host, **extra: object) -> Path:
    hv = {k: v for k, v in host.hostvars.items() if k not in ("ansible_user", "lab_flavor")}
    hv.update(extra)
    path.write_text(yaml.safe_dump({"all": {"hosts": {host.name: hv}}}))
    return path


def _apply(tmp_path: Path, inv: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    book = tmp_path / "play.yml"
    book.write_text(PLAY)
    return subprocess.run([str(BIN / "hostprep"), "apply", "-i", str(inv), str(book), "--json", *args],
                          input=stdin, capture_output=True, text=True, timeout=300)


def _report(proc: subprocess.CompletedProcess) -> str:
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            e = json.loads(line)
            if e.get("event") == "task_result" and e.get("task", "").endswith("report"):
                return e["result"]["msg"]
    raise AssertionError(f"no report in output:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")


def test_cli_user_become_and_ask_become_pass(host, tmp_path: Path) -> None:
    ssh(host, "rm -f /etc/hpft-cli.conf")
    inv = _inventory(tmp_path / "inv.yml", host)
    with _PsWatch(host, "sleep 2.5") as ps:
        proc = _apply(tmp_path, inv, "-u", "deploy", "-b", "-K", stdin=host.deploy_password + "\n")
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-2000:])
    assert _report(proc) == "become=root plain=deploy"
    assert ssh(host, "stat -c '%a %U' /etc/hpft-cli.conf").stdout.strip() == "600 root"
    assert ps.saw_command()
    for text in [proc.stdout, proc.stderr, *ps.samples]:
        assert host.deploy_password not in text
    # --become-user
    proc = _apply(tmp_path, inv, "-u", "deploy", "-b", "-K", "--become-user", "hpftuser", "--check",
                  stdin=host.deploy_password + "\n")
    assert _report(proc) == "become=hpftuser plain=deploy", proc.stderr[-2000:]


def test_inventory_values_beat_the_command_line_and_extra_vars_beat_both(host, tmp_path: Path) -> None:
    # the inventory says root: -u deploy loses (Ansible: command-line values are the lowest precedence)
    inv = _inventory(tmp_path / "inv.yml", host, ansible_user="root")
    proc = _apply(tmp_path, inv, "-u", "deploy", "--check")
    assert _report(proc) == "become=root plain=root", proc.stderr[-2000:]
    # -e ansible_user=deploy beats the inventory
    proc = _apply(tmp_path, inv, "-u", "root", "-b", "-K", "-e", "ansible_user=deploy", "--check",
                  stdin=host.deploy_password + "\n")
    assert _report(proc) == "become=root plain=deploy", proc.stderr[-2000:]
    # a host's own become password beats -K: here it is wrong, so become fails although -K was right
    inv = _inventory(tmp_path / "inv2.yml", host, ansible_user="deploy", ansible_become_password="wrong-pw-7")
    proc = _apply(tmp_path, inv, "-b", "-K", "--check", stdin=host.deploy_password + "\n")
    assert proc.returncode != 0
    assert "refused the become password" in proc.stdout, proc.stdout[-2000:]
    assert host.deploy_password not in proc.stdout + proc.stderr
    assert "wrong-pw-7" not in proc.stdout + proc.stderr


def test_cli_on_a_requiretty_host(host, requiretty, tmp_path: Path) -> None:
    inv = _inventory(tmp_path / "inv.yml", host)
    with _PsWatch(host, "sleep 2.5") as ps:
        proc = _apply(tmp_path, inv, "-u", "deploy", "-b", "-K", stdin=host.deploy_password + "\n")
    assert proc.returncode in (0, 2), (proc.stdout[-3000:], proc.stderr[-2000:])
    assert _report(proc) == "become=root plain=deploy"
    for text in [proc.stdout, proc.stderr, *ps.samples]:
        assert host.deploy_password not in text


@pytest.fixture
def password_auth(host):
    conf = "/etc/ssh/sshd_config.d/00-hostprep-test-password.conf"
    res = ssh(host, f"printf 'PasswordAuthentication yes\\n' > {conf} && systemctl reload ssh")
    assert res.returncode == 0, res.stderr
    try:
        yield
    finally:
        assert ssh(host, f"rm -f {conf} && systemctl reload ssh").returncode == 0


def test_ask_pass_logs_in_with_a_password(host, password_auth, tmp_path: Path) -> None:
    hv = {k: v for k, v in host.hostvars.items()
          if k not in ("ansible_user", "ansible_ssh_private_key_file", "lab_flavor")}
    inv = tmp_path / "inv.yml"
    inv.write_text(yaml.safe_dump({"all": {"hosts": {host.name: hv}}}))
    assert not Path("~/.ssh/id_ed25519").expanduser().exists() and not Path("~/.ssh/id_rsa").expanduser().exists()
    # without a password the login fails (no key): the host is unreachable
    proc = _apply(tmp_path, inv, "-u", "deploy", "--check", "-T", "5")
    assert proc.returncode == 4, (proc.stdout[-2000:], proc.stderr[-2000:])
    # -k asks once (stdin: no terminal); -K's empty answer means "the SSH password"
    proc = _apply(tmp_path, inv, "-u", "deploy", "-k", "-K", "-b", "--check",
                  stdin=f"{host.deploy_password}\n\n")
    assert _report(proc) == "become=root plain=deploy", (proc.stdout[-2000:], proc.stderr[-2000:])
    assert host.deploy_password not in proc.stdout + proc.stderr
    assert str(paths.KEY) not in inv.read_text()
