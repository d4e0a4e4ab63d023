"""Bad Dockerfiles and contexts: each refused with a message naming the Dockerfile's line and the cause, exit code
1 and no traceback, and nothing half-made left (no new image name, no build container, no work directory, no
mount) — under the control node's Python, 3.9 and 3.6 (the `rt` fixture)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

CASES = {
    "unknown_instruction": ("FROM bb\nRUN true\nFOO bar\n", {}, [], ["Dockerfile:3", "unknown instruction: FOO"]),
    "copy_dotdot": ("FROM bb\nCOPY ../secret /s\n", {}, [], ["Dockerfile:2", "outside the build context"]),
    "copy_absolute": ("FROM bb\nCOPY /etc/passwd /p\n", {}, [], ["Dockerfile:2", "absolute path"]),
    "copy_symlink_out": ("FROM bb\nCOPY out /o\n", {"@out": "/etc/passwd"}, [],
                         ["Dockerfile:2", "symlink to /etc/passwd, outside the build context"]),
    "copy_symlink_out_relative": ("FROM bb\nCOPY d/up /o\n", {"@d/up": "../../../etc"}, [],
                                  ["Dockerfile:2", "outside the build context"]),
    "copy_missing": ("FROM bb\nCOPY nothere /x\n", {}, [], ["Dockerfile:2", "no such file or directory"]),
    "copy_glob_nothing": ("FROM bb\nCOPY *.nope /x/\n", {}, [], ["Dockerfile:2", "matches"]),
    "copy_excluded": ("FROM bb\nCOPY secret.key /k\n", {"secret.key": "k", ".dockerignore": "*.key\n"}, [],
                      ["Dockerfile:2", "excluded by .dockerignore"]),
    "copy_many_to_file": ("FROM bb\nCOPY a b /dest\n", {"a": "a", "b": "b"}, [], ["Dockerfile:2", "end with a /"]),
    "missing_stage": ("FROM bb AS one\nFROM bb\nCOPY --from=nope /x /x\n", {}, [],
                      ["Dockerfile:3", "--from=nope", "no stage of that name"]),
    "missing_target": ("FROM bb AS one\n", {}, ["--target", "two"], ["target stage 'two' could not be found"]),
    "missing_base": ("FROM no-such-image:1\n", {}, [], ["Dockerfile:1", "base image 'no-such-image:1'"]),
    "failing_run": ("FROM bb\nRUN echo first-line && echo last-line && exit 3\n", {}, [],
                    ["Dockerfile:2", "non-zero code: 3", "last-line"]),
    "remote_add": ("FROM bb\nADD https://example.org/x.tar.gz /x\n", {}, [], ["Dockerfile:2", "remote URLs"]),
    "run_mount_flag": ("FROM bb\nRUN --mount=type=cache,target=/c true\n", {}, [],
                       ["Dockerfile:2", "RUN --mount is not supported"]),
    "onbuild": ("FROM bb\nONBUILD RUN true\n", {}, [], ["Dockerfile:2", "ONBUILD is not supported"]),
    "instruction_before_from": ("RUN true\nFROM bb\n", {}, [], ["Dockerfile:1", "before the first FROM"]),
    "shell_not_json": ("FROM bb\nSHELL /bin/bash -c\n", {}, [], ["Dockerfile:2", "JSON form"]),
    "bad_chown_name": ("FROM bb\nCOPY --chown=nobody-here f /f\n", {"f": "f"}, [],
                       ["Dockerfile:2", "no user 'nobody-here'"]),
    "duplicate_escape": ("# escape=`\n# escape=\\\nFROM bb\n", {}, [], ["Dockerfile:1", "only one escape"]),
    "bad_tag": ("FROM bb\n", {}, ["-t", "Bad Name"], ["invalid"]),
}


def _context(base: Path, name: str, files: dict) -> Path:
    ctx = base / ("err-" + name)
    ctx.mkdir()
    for rel, content in files.items():
        if rel.startswith("@"):
            (ctx / rel[1:]).parent.mkdir(parents=True, exist_ok=True)
            (ctx / rel[1:]).symlink_to(content)
        else:
            (ctx / rel).write_text(content)
    return ctx


def _leftovers(rt) -> dict:
    state = Path(rt.state)
    mounts = Path("/proc/self/mountinfo").read_text()
    return {"images": json.loads(rt("images", "--format", "json").stdout),
            "containers": json.loads(rt("ps", "-a", "--format", "json").stdout),
            "work": sorted(p.name for p in state.iterdir() if p.name.startswith(".build-")),
            "mounts": [line for line in mounts.splitlines() if str(state) in line]}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_build_is_refused_with_its_line(rt, name: str) -> None:
    dockerfile, files, extra, expected = CASES[name]
    ctx = _context(Path(rt.base), name, files)
    (ctx / "Dockerfile").write_text(dockerfile)
    before = _leftovers(rt)
    res = rt("build", "-t", "err-" + name.replace("_", "-"), *extra, str(ctx))
    assert res.returncode != 0
    assert "Traceback" not in res.stderr + res.stdout
    for fragment in expected:
        assert fragment in res.stderr, res.stderr
    assert _leftovers(rt) == before


def test_failing_run_keeps_the_steps_before_it_cached(rt) -> None:
    """A failed build names no image, but the steps that succeeded are cached (as Docker keeps them)."""
    ctx = Path(rt.base) / "err-cached"
    ctx.mkdir()
    (ctx / "f").write_text("f\n")
    (ctx / "Dockerfile").write_text("FROM bb\nCOPY f /f\nRUN exit 7\n")
    first = rt("build", "-t", "never-made", str(ctx))
    assert first.returncode == 1 and "non-zero code: 7" in first.stderr
    again = rt("build", "-t", "never-made", str(ctx))
    assert again.returncode == 1
    assert again.stdout.count("CACHED") == 1  # the COPY
    assert "never-made" not in rt("images").stdout
    assert os.path.isdir(Path(rt.state) / "build-cache")


def test_interrupted_build_leaves_nothing_behind(rt) -> None:
    """SIGTERM (or Ctrl-C) during a RUN: the build stops within seconds, its build container, cgroups, mounts and
    work directory are gone, and no image is named."""
    import signal
    import subprocess
    import time

    from tests.runtime.support import container_cgroups, runtime_argv

    ctx = Path(rt.base) / "err-interrupt"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM bb\nRUN echo started && sleep 60\n")
    before, cgroups = _leftovers(rt), container_cgroups()
    proc = subprocess.Popen(runtime_argv(rt, "build", "-t", "interrupted", str(ctx)), env=rt.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.strip() == "started":
            break
    assert lines and lines[-1].strip() == "started", lines
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.returncode != 0 and time.monotonic() - started < 15
    assert "Traceback" not in proc.stderr.read()
    assert _leftovers(rt) == before
    # a new cgroup left without processes is a leak (one with processes: another session's running container)
    new = container_cgroups() - cgroups
    assert not [c for c in new if os.path.exists(os.path.join(c, "cgroup.procs")) and
                not Path(c, "cgroup.procs").read_text().strip()]
