"""The live progress display of `hostprep apply` on two EL9 lab hosts over SSH.

Under a pseudo-terminal (the `pty` module: hostprep's stdout is a real tty) the default
`--progress auto` draws the live display (a `done/total hosts` counter redrawn in place), prints
changed lines naming their task above it, then the PLAY RECAP; no secret appears. A Ctrl-C typed on
that terminal (the tty driver sends SIGINT to the foreground process group) stops the run cleanly:
the display says so, the recap marks the hosts, the cursor is given back, exit code 130.
Without a terminal the same run prints plain Ansible-like lines.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest

from tests.integration.labutil import BIN, ssh, write_inventory

SECRET = "Lab-pw-7f3a9c"
BOOK = f"""
- hosts: all
  vars:
    app_password: "{SECRET}"
  tasks:
    - name: work dir
      file: path=/srv/hp-progress state=directory mode=0755
    - name: slow step
      shell: "touch /tmp/hp-progress-{{{{ tag }}}}-started; sleep {{{{ nap }}}}"
      changed_when: false
    - name: config
      copy:
        dest: /srv/hp-progress/app.conf
        content: "host={{{{ inventory_hostname }}}} run={{{{ tag }}}}\\n"
    - name: secret in a result
      set_fact:
        db_password: "{{{{ app_password }}}}"
    - name: secret hidden by no_log
      debug: msg="{{{{ app_password }}}}"
      no_log: true
"""


@pytest.fixture(scope="module")
def project(lab, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:  # noqa: ANN001
    hosts = lab.up(2, "el9", "ui")
    root = tmp_path_factory.mktemp("progress")
    (root / "site.yml").write_text(BOOK)
    inv = write_inventory(root / "inv.yml", hosts)
    return root, inv, hosts


def run_in_pty(argv: list[str], cwd: Path, *, ctrl_c_when=None, timeout: float = 300,  # noqa: ANN001
               cols: int = 120, rows: int = 40) -> tuple[int, bytes]:
    """Run argv with a pseudo-terminal as its stdin/stdout/stderr; return (exit code, all it wrote).

    `ctrl_c_when`: a function polled while it runs; once it returns true, Ctrl-C is typed on the terminal.
    """
    pid, fd = pty.fork()
    if pid == 0:  # the child: a new session whose controlling terminal is the pty
        try:
            fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            os.chdir(cwd)
            os.execve(argv[0], argv, {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(cols)})
        finally:
            os._exit(127)
    out = bytearray()
    deadline = time.monotonic() + timeout
    typed = False
    try:
        while True:
            if ctrl_c_when is not None and not typed and ctrl_c_when():
                os.write(fd, b"\x03")  # what the Ctrl-C key sends; the tty driver turns it into SIGINT
                typed = True
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: the child closed its side (it exited)
                    break
                if not chunk:
                    break
                out += chunk
            assert time.monotonic() < deadline, f"hostprep did not finish in {timeout}s:\n{bytes(out[-3000:])!r}"
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), bytes(out)


def plain(raw: bytes) -> str:
    """What a person reads: cursor control and colors removed, carriage returns as line breaks."""
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_live_display_on_a_terminal_then_plain_lines_without(project: tuple[Path, Path, list]) -> None:
    root, inv, hosts = project
    for h in hosts:
        ssh(h, "rm -rf /srv/hp-progress /tmp/hp-progress-*")
    code, raw = run_in_pty([str(BIN / "hostprep"), "apply", "-i", str(inv), "site.yml", "-e", "nap=2",
                            "-e", "tag=tty"], root)
    text = plain(raw)
    assert code == 0, text[-4000:]
    assert "\x1b[1A" in raw.decode() and "\x1b[2K" in raw.decode(), "the display was never redrawn in place"
    assert "0/2 hosts" in text and "2/2 hosts" in text, text[-4000:]
    assert "  hosts:   2 changed · 0 failed · 0 unreachable" in text, text[-4000:]
    # linear (the default): the task every host is on, and how many are done with it
    assert re.search(r"now: +TASK \[(slow step|Gathering Facts)\] \(\d/2 hosts done\)", text), text[-4000:]
    for h in hosts:
        assert f"changed: [{h.name}] TASK [config]" in text
        assert f"host={h.name} run=tty" in ssh(h, "cat /srv/hp-progress/app.conf").stdout
    recap = text.index("PLAY RECAP")
    assert recap > text.rindex("2/2 hosts")
    assert all(re.search(rf"^{re.escape(h.name)} +: ok=6 +changed=2 ", text[recap:], re.M) for h in hosts)
    assert SECRET not in text
    assert raw.decode().rstrip().count("\x1b[?25h") >= 1  # the cursor is shown again

    piped = subprocess.run([str(BIN / "hostprep"), "apply", "-i", str(inv), "site.yml", "-e", "nap=0",
                            "-e", "tag=pipe"], capture_output=True, text=True, cwd=root, timeout=300)
    assert piped.returncode == 0, piped.stdout[-3000:] + piped.stderr[-2000:]
    out = piped.stdout
    assert "\x1b[" not in out and "hosts:" not in out and "/2 hosts" not in out
    assert "TASK [slow step] ***" in out and "PLAY RECAP" in out
    for h in hosts:
        assert f"ok: [{h.name}]" in out and f"changed: [{h.name}]" in out
    assert SECRET not in out + piped.stderr


def test_ctrl_c_typed_on_the_terminal(project: tuple[Path, Path, list]) -> None:
    root, inv, hosts = project
    for h in hosts:
        ssh(h, "rm -rf /srv/hp-progress /tmp/hp-progress-*")

    def slow_step_running() -> bool:
        return all(ssh(h, "test -e /tmp/hp-progress-int-started").returncode == 0 for h in hosts)

    code, raw = run_in_pty([str(BIN / "hostprep"), "apply", "-i", str(inv), "site.yml", "-e", "nap=10",
                            "-e", "tag=int", "--retry-file", str(root / "int.retry")], root,
                           ctrl_c_when=slow_step_running)
    text = plain(raw)
    assert code == 130, text[-4000:]
    assert "interrupted (Ctrl-C): the commands and uploads in flight finish" in text
    recap = text[text.index("PLAY RECAP"):]
    assert all(re.search(rf"^{re.escape(h.name)} +:.* interrupted$", recap, re.M) for h in hosts), recap
    assert "TASK [config]" not in text
    assert sorted((root / "int.retry").read_text().split()) == sorted(h.name for h in hosts)
    assert raw.decode().rstrip().count("\x1b[?25h") >= 1
    for h in hosts:
        assert ssh(h, "ls -A /srv/hp-progress").stdout.split() == []
