"""yum_repository rendering and validation, wait_for checks (the shell tests run for real with sh/bash)."""

from __future__ import annotations

import base64
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from hostprep.errors import ModuleArgError
from hostprep.modules import get_module
from hostprep.modules.wait_for import build_check, poll_script
from tests.unit.modules.conftest import plan_of

DOCKER_REPO = {"name": "docker-ce-stable", "description": "Docker CE Stable - $basearch", "file": "docker-ce",
               "baseurl": "http://10.231.0.1:8480/linux/centos/$releasever/$basearch/stable",
               "gpgcheck": True, "gpgkey": "http://10.231.0.1:8480/RPM-GPG-KEY-hostprep-lab", "enabled": True}
RENDERED = ("[docker-ce-stable]\nbaseurl = http://10.231.0.1:8480/linux/centos/$releasever/$basearch/stable\n"
            "enabled = 1\ngpgcheck = 1\ngpgkey = http://10.231.0.1:8480/RPM-GPG-KEY-hostprep-lab\n"
            "name = Docker CE Stable - $basearch\n\n")


def repo_probe(content: str | None, mode: str = "644") -> str:
    body = base64.b64encode(content.encode()).decode() if content is not None else "ABSENT"
    stat = f"kind=file\nmode={mode}\nuid=0\ngid=0\nowner=root\ngroup=root\n" if content is not None else "kind=absent\n"
    return f"@@hostprep:content@@\n{body}\n@@hostprep:stat@@\n{stat}"


def test_repo_file_written_once_then_ok() -> None:
    plan = plan_of("yum_repository", DOCKER_REPO, repo_probe(None))
    (upload,) = plan.steps
    assert upload.dest == "/etc/yum.repos.d/docker-ce.repo" and upload.mode == "0644"
    assert upload.data.decode() == RENDERED
    assert not plan_of("yum_repository", DOCKER_REPO, repo_probe(RENDERED)).changed
    # other sections of the file are kept, the managed one replaced in place
    other = "[other]\nname = Other\nbaseurl = http://x\n\n"
    both = plan_of("yum_repository", {**DOCKER_REPO, "enabled": False}, repo_probe(other + RENDERED))
    assert both.steps[0].data.decode() == other + RENDERED.replace("enabled = 1", "enabled = 0")
    gone = plan_of("yum_repository", {"name": "docker-ce-stable", "file": "docker-ce", "state": "absent"},
                   repo_probe(RENDERED))
    assert [s.cmd for s in gone.steps] == ["rm -f /etc/yum.repos.d/docker-ce.repo"]


def test_repo_mode_fixed_without_rewriting() -> None:
    plan = plan_of("yum_repository", {**DOCKER_REPO, "mode": "0600"}, repo_probe(RENDERED, mode="644"))
    assert [s.cmd for s in plan.steps] == ["chmod 0600 /etc/yum.repos.d/docker-ce.repo"]


def test_repo_arguments_checked_before_any_host() -> None:
    repo = get_module("yum_repository")()
    with pytest.raises(ModuleArgError, match="description is required") as err:
        repo.validate({"name": "x", "baseurl": "http://x"})
    assert err.value.key == "description"
    with pytest.raises(ModuleArgError, match="one of baseurl, mirrorlist, metalink"):
        repo.validate({"name": "x", "description": "X"})
    assert repo.validate({"name": "x", "state": "absent"})["state"] == "absent"
    assert repo.validate({**DOCKER_REPO, "validate_certs": False})["sslverify"] is False


def _sh(script: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=timeout)


def test_wait_for_checks_run_for_real(tmp_path: Path) -> None:
    wait = get_module("wait_for")()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]

    def greet() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(b"HELLO hostprep 1.0\n")
            conn.close()

    threading.Thread(target=greet, daemon=True).start()
    try:
        up = build_check(wait.validate({"port": port, "timeout": 3}))
        assert _sh(f"if {up}; then echo open; fi").stdout == "open\n"
        match = build_check(wait.validate({"port": port, "search_regex": "HELLO [a-z]+"}))
        assert _sh(f"if {match}; then echo match; fi").stdout == "match\n"
        nomatch = build_check(wait.validate({"port": port, "search_regex": "GOODBYE", "connect_timeout": 2}))
        assert _sh(f"if {nomatch}; then echo match; fi").stdout == ""
    finally:
        server.shutdown(socket.SHUT_RDWR)  # wakes the accept() so the port really closes
        server.close()
    closed = build_check(wait.validate({"port": port, "state": "stopped"}))
    assert _sh(f"if {closed}; then echo closed; fi").stdout == "closed\n"
    flag = tmp_path / "flag"
    present = poll_script(build_check(wait.validate({"path": str(flag), "search_regex": "ready"})), 5, 1)
    proc = subprocess.Popen(["sh", "-c", present], stdout=subprocess.PIPE, text=True)
    flag.write_text("not yet\n")
    flag.write_text("ready\n")
    out, _ = proc.communicate(timeout=15)
    assert (proc.returncode, out) == (0, "ok\n")
    absent = poll_script(build_check(wait.validate({"path": str(flag), "state": "absent"})), 2, 1)
    assert _sh(absent).returncode == 1


def test_wait_for_arguments() -> None:
    wait = get_module("wait_for")()
    with pytest.raises(ModuleArgError, match="mutually exclusive"):
        wait.validate({"port": 22, "path": "/x"})
    with pytest.raises(ModuleArgError, match="not a host name"):
        wait.validate({"port": 22, "host": "$(reboot)"})
    with pytest.raises(ModuleArgError, match="drained needs a port"):
        wait.validate({"state": "drained"})
    assert "ss -Htn state established" in build_check(wait.validate({"port": 80, "state": "drained"}))
    assert build_check(wait.validate({"timeout": 1})) is None
