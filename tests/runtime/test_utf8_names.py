"""Images with non-ASCII file names under the C locale, as roles/runtime runs the runtime over ssh on EL7/EL8.

Python 3.6 (EL7's python3, EL8's platform-python) encodes file names as ASCII under the C locale, and the
import of such an image failed ("'ascii' codec can't encode character"); the runtime now starts itself again
under a UTF-8 locale there (hostprep/runtime/utf8.py). The container's environment is not touched by that.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.runtime.support import ROOT, busybox_rootfs_tar, python_for

NAME = "caf\u00e9-\u65e5\u672c.txt"


def _image(base: Path) -> Path:
    """The busybox root with one more file whose name is not ASCII (a PAX header carries it as UTF-8)."""
    plain = busybox_rootfs_tar(base)
    out = base / "utf8.tar"
    with tarfile.open(plain) as src, tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        info = tarfile.TarInfo(NAME)
        info.size = 6
        dst.addfile(info, io.BytesIO(b"hello\n"))
    return out


@pytest.mark.parametrize("python", ["python3.6", "control"])
def test_an_image_with_utf8_names_imports_and_runs_under_the_c_locale(python: str, tmp_path: Path) -> None:
    image = _image(tmp_path)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "HOSTPREP_RUNTIME_ROOT": str(tmp_path / "state"),
           "PYTHONPATH": str(ROOT)}

    def rt(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([python_for(python), "-m", "hostprep.runtime", *args], capture_output=True, env=env,
                              timeout=120)

    res = rt("import", str(image), "utf")
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    shown = rt("run", "--rm", "utf", "/bin/cat", "/" + NAME)  # the file is there under its own name
    assert shown.returncode == 0, shown.stderr.decode(errors="replace")
    assert shown.stdout == b"hello\n", shown.stdout
    seen = rt("run", "--rm", "utf", "/bin/env")
    assert seen.returncode == 0, seen.stderr.decode(errors="replace")
    assert b"LC_ALL" not in seen.stdout and b"HOSTPREP" not in seen.stdout, seen.stdout
    assert os.path.isdir(tmp_path / "state")
