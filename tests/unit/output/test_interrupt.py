"""Ctrl-C, for real: SIGINT delivered to the process running the executor, on local hosts (no SSH).

In-process runs use the real InterruptHandler and PlaybookRunner; the CLI runs are `hostprep apply`
subprocesses that get SIGINT by their pid. What is checked: the task in flight finishes, nothing new
starts, hosts are marked interrupted, the recap and retry file say so, exit code 130; a second SIGINT
exits at once; a plan stopped between steps removes the temp file it uploaded for a later step.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from hostprep.cli.interrupt import EXIT_INTERRUPTED, InterruptHandler
from hostprep.executor.play import PlaybookRunner
from hostprep.executor.state import RunOptions
from hostprep.inventory import load_inventory
from hostprep.modules import get_module
from hostprep.modules.base import TaskContext
from hostprep.output.human import HumanOutput
from hostprep.playbook.loader import load_playbook
from hostprep.transport.local import LocalTransport

BIN = Path(sys.executable).parent / "hostprep"


def _project(tmp: Path, book: str, hosts: int = 2) -> tuple[Path, Path]:
    inv = tmp / "inv.ini"
    inv.write_text("[local]\n" + "".join(f"h{i} ansible_connection=local\n" for i in range(hosts)))
    path = tmp / "site.yml"
    path.write_text(textwrap.dedent(book))
    return inv, path


SLOW_THEN_WRITE = """
- hosts: local
  gather_facts: false
  tasks:
    - name: slow
      shell: >-
        touch {tmp}/started-{{{{ inventory_hostname }}}}; sleep {nap};
        touch {tmp}/slept-{{{{ inventory_hostname }}}}
    - name: write
      copy: dest={tmp}/written-{{{{ inventory_hostname }}}} content=x
    - name: after
      loop: [1, 2]
      copy: dest={tmp}/loop-{{{{ inventory_hostname }}}}-{{{{ item }}}} content=x
- hosts: local
  gather_facts: false
  tasks:
    - name: second play
      copy: dest={tmp}/play2-{{{{ inventory_hostname }}}} content=x
"""


def _wait_for(paths: list[Path], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in paths):
        assert time.monotonic() < deadline, f"never appeared: {[str(p) for p in paths if not p.exists()]}"
        time.sleep(0.02)


def test_sigint_in_process_finishes_the_step_in_flight_and_starts_nothing(tmp_path: Path) -> None:
    inv, book = _project(tmp_path, SLOW_THEN_WRITE.format(tmp=tmp_path, nap=1))
    stream = io.StringIO()
    runner = PlaybookRunner(load_playbook(book), load_inventory([str(inv)]), RunOptions(), HumanOutput(stream))

    def interrupt() -> None:
        _wait_for([tmp_path / "started-h0", tmp_path / "started-h1"])
        os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    threading.Thread(target=interrupt, daemon=True).start()
    with InterruptHandler(runner.cancelled, runner.output):
        stats = runner.run()
    assert signal.getsignal(signal.SIGINT) is before  # the handler is only there for the run
    assert runner.cancelled.is_set()
    for h in ("h0", "h1"):
        assert (tmp_path / f"slept-{h}").exists()  # the command in flight finished
        assert not (tmp_path / f"written-{h}").exists()  # nothing new started
        assert not (tmp_path / f"play2-{h}").exists()
        assert stats[h].interrupted and stats[h].ok == 1 and stats[h].failed == 0
    out = stream.getvalue()
    assert "PLAY RECAP" in out and "INTERRUPTED (Ctrl-C): 2 host(s) did not finish: h0, h1" in out
    assert "TASK [write]" not in out


def test_cli_exit_130_recap_and_retry_file(tmp_path: Path) -> None:
    inv, book = _project(tmp_path, SLOW_THEN_WRITE.format(tmp=tmp_path, nap=1))
    retry = tmp_path / "site.retry"
    proc = subprocess.Popen([str(BIN), "apply", "-i", str(inv), str(book), "--retry-file", str(retry)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    _wait_for([tmp_path / "started-h0", tmp_path / "started-h1"])
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_INTERRUPTED, out + err
    assert "interrupted (Ctrl-C)" in err and "interrupted and failed hosts listed in" in err
    assert "PLAY RECAP" in out and out.count(" interrupted\n") == 2, out
    assert retry.read_text() == "h0\nh1\n"
    assert not list(tmp_path.glob("written-*")) and not list(tmp_path.glob(".hostprep-*"))
    # a re-run of the retry file finishes the job; the run after it changes nothing
    again = subprocess.run([str(BIN), "apply", "-i", str(inv), str(book), "--limit", f"@{retry}", "--json"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (tmp_path / "written-h0").read_text() == "x" and (tmp_path / "play2-h1").read_text() == "x"
    assert '"interrupted": false' in again.stdout.splitlines()[-1]


def test_cli_second_sigint_aborts_at_once(tmp_path: Path) -> None:
    inv, book = _project(tmp_path, SLOW_THEN_WRITE.format(tmp=tmp_path, nap=60), hosts=1)
    proc = subprocess.Popen([str(BIN), "apply", "-i", str(inv), str(book), "--retry-file",
                             str(tmp_path / "r.retry")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    _wait_for([tmp_path / "started-h0"])
    proc.send_signal(signal.SIGINT)
    # the first Ctrl-C is seen handled (its warning on stderr), not guessed after a sleep ...
    assert proc.stderr is not None
    said = ""
    while "interrupted (Ctrl-C)" not in said:
        line = proc.stderr.readline()
        assert line, f"stderr ended before the first Ctrl-C's warning: {said!r}"
        said += line
    assert proc.poll() is None  # ... and the run waits for the command in flight
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=90)
    # a generous bound: it only tells an abort from waiting for the 60 s command in flight
    assert time.monotonic() - sent < 30, "the second Ctrl-C did not abort at once"
    assert proc.returncode == EXIT_INTERRUPTED
    assert "Aborted (second Ctrl-C)" in err
    assert not (tmp_path / "written-h0").exists()


def test_plan_stopped_between_steps_removes_its_temp_upload(tmp_path: Path) -> None:
    """copy with validate uploads DEST.hostprep-new, then validates, then renames: stopped after the
    upload, the temp file is removed and the destination is untouched."""
    cancelled = threading.Event()

    class CancelAfterUpload(LocalTransport):  # a real local transport; Ctrl-C lands right after the upload
        def put(self, data, dest, **kw):  # noqa: ANN001, ANN003
            super().put(data, dest, **kw)
            assert Path(dest).exists()
            cancelled.set()

    dest = tmp_path / "conf"
    dest.write_text("old\n")
    module = get_module("copy")()
    args = module.validate({"dest": str(dest), "content": "new\n", "validate": "grep -q new %s"})
    ctx = TaskContext(transport=CancelAfterUpload(), host="local")
    ctx.cancelled = cancelled  # type: ignore[attr-defined] - what TaskRunner hands to apply_plan
    result = module.run(args, ctx)
    assert result["failed"] and result["interrupted"] and "interrupted (Ctrl-C)" in result["msg"]
    assert dest.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf"]  # no conf.hostprep-new left
    # without Ctrl-C the same task goes through
    cancelled.clear()
    ctx2 = TaskContext(transport=LocalTransport(), host="local")
    ctx2.cancelled = cancelled  # type: ignore[attr-defined]
    assert not module.run(args, ctx2).get("failed")
    assert dest.read_text() == "new\n"


def test_sigint_stops_later_batches_and_pending_handlers(tmp_path: Path) -> None:
    inv, book = _project(tmp_path, f"""
    - hosts: local
      gather_facts: false
      serial: 1
      tasks:
        - name: slow change
          shell: touch {tmp_path}/started-{{{{ inventory_hostname }}}}; sleep 1
          notify: handler
      handlers:
        - name: handler
          copy: dest={tmp_path}/handled-{{{{ inventory_hostname }}}} content=x
    """, hosts=3)
    stream = io.StringIO()
    runner = PlaybookRunner(load_playbook(book), load_inventory([str(inv)]), RunOptions(), HumanOutput(stream))

    def interrupt() -> None:
        _wait_for([tmp_path / "started-h0"])
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with InterruptHandler(runner.cancelled, runner.output):
        stats = runner.run()
    assert stats["h0"].changed == 1 and not (tmp_path / "handled-h0").exists()  # notified, not run
    assert not list(tmp_path.glob("started-h[12]"))  # later batches never started
    assert all(stats[h].interrupted for h in ("h0", "h1", "h2"))
    assert "INTERRUPTED (Ctrl-C): 3 host(s) did not finish: h0, h1, h2" in stream.getvalue()
