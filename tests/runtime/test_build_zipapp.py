"""`build` as hosts run it: the single-file zipapp roles/runtime ships, executed by Python 3.6 (EL7/EL8 system
Python) and 3.9 (EL9), builds a Dockerfile with COPY and RUN whose image then runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from hostprep.runtime import build
from tests.runtime.support import busybox_rootfs_tar, interpreter


@pytest.mark.parametrize("version", ["3.6", "3.9"])
def test_zipapp_builds_under_the_hosts_python(tmp_path: Path, version: str) -> None:
    python = interpreter(version)
    pyz = tmp_path / "hostprep-runtime.pyz"
    build.build(str(pyz), python)
    env = dict(os.environ, HOSTPREP_RUNTIME_ROOT=str(tmp_path / "state"))
    env.pop("PYTHONPATH", None)

    def rt(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(pyz), *args], capture_output=True, text=True, env=env, timeout=120)

    assert rt("import", str(busybox_rootfs_tar(tmp_path)), "bb").returncode == 0
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "hello").write_text("hello\n")
    (ctx / "Dockerfile").write_text('FROM bb\nCOPY hello /hello\nRUN cat /hello /hello > /twice\n'
                                    'CMD ["cat", "/twice"]\n')
    res = rt("build", "-t", "zipbuilt", str(ctx))
    assert res.returncode == 0, res.stdout + res.stderr
    assert rt("run", "--rm", "zipbuilt").stdout == "hello\nhello\n"
    assert "--> CACHED" in rt("build", "-t", "zipbuilt", str(ctx)).stdout
