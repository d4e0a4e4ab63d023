"""Escape through the image's account files: `-u NAME` looks the name up in the image's /etc/passwd and
/etc/group inside the container's root. A layer that links them to a host file (here a stand-in for the
host's /etc/shadow) gets the container's file or nothing, and no message repeats a host file's content."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from tests.runtime.support import BUSYBOX


def _image(tmp_path: Path, passwd_link: str, group_link: str, inside: str) -> Path:
    tar = tmp_path / "links.tar"
    with tarfile.open(tar, "w") as t:
        t.add(BUSYBOX, arcname="bin/busybox")
        for applet in ("sh", "id", "cat"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            t.addfile(info)
        for name, target in (("etc/passwd", passwd_link), ("etc/group", group_link)):
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            t.addfile(info)
        data = b"inside:x:77:77::/:/bin/sh\n"  # what the links find when resolved inside the container
        info = tarfile.TarInfo(inside)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return tar


def test_user_lookup_never_reads_a_host_file(rt, tmp_path: Path) -> None:
    """Absolute links (a relative one that climbs out of the layer is refused at import, tarsafe.py)."""
    secret_dir = tmp_path / "host" / "secret"
    secret_dir.mkdir(parents=True)
    (secret_dir / "passwd").write_text("victim:x:4242:4242:SECRET-HASH-FROM-THE-HOST:/:/bin/sh\n")
    (secret_dir / "group").write_text("victims:x:4343:SECRET-GROUP-FROM-THE-HOST\n")
    passwd, group = str(secret_dir / "passwd"), str(secret_dir / "group")
    tag = "links"
    inside = str(secret_dir / "passwd")[1:]  # the same path in the image: where the links lead inside its root
    assert rt("import", str(_image(tmp_path, passwd, group, inside)), tag).returncode == 0
    res = rt("run", "--rm", "-u", "victim", tag, "id")
    assert res.returncode == 125 and "unable to find user victim" in res.stderr, (res.stdout, res.stderr)
    assert "SECRET" not in res.stderr + res.stdout and "4242" not in res.stdout
    res = rt("run", "--rm", "-u", "0:victims", tag, "id", "-g")
    assert res.returncode == 125 and "unable to find group victims" in res.stderr and "SECRET" not in res.stderr
    name = f"u{os.getpid()}"
    assert rt("run", "-d", "--name", name, tag, "sh", "-c", "sleep 30").returncode == 0
    try:
        res = rt("exec", "-u", "victim", name, "id")
        assert res.returncode == 125 and "unable to find user victim" in res.stderr and "SECRET" not in res.stderr
    finally:
        rt("rm", "-f", name)
    # resolved inside the container (an absolute link from its root, `..` stopping there), the links find the
    # image's own file
    res = rt("run", "--rm", "-u", "inside", tag, "id", "-u")
    assert res.stdout.strip() == "77", res.stderr
