"""`cp` in and out of a running and a stopped container (paths resolved inside the container: a link there
never leads to the host), and `commit` of a container's changes to an image that runs."""

from __future__ import annotations

import json
import time
from pathlib import Path


def test_cp_both_ways_running_and_stopped(rt, tmp_path: Path) -> None:
    host = tmp_path / "in.txt"
    host.write_text("from host\n")
    out = tmp_path / "out"
    out.mkdir()
    assert rt("run", "-d", "--name", "cp1", "-v", "cpvol:/data", "bb", "sh", "-c",
              "echo made > /made; mkdir -p /tree/a; echo deep > /tree/a/f; echo v > /data/v; "
              "ln -s / /escape; sleep 600").returncode == 0
    deadline = time.monotonic() + 15
    while rt("exec", "cp1", "test", "-L", "/escape").returncode != 0:
        assert time.monotonic() < deadline, "the container's setup"
        time.sleep(0.05)
    assert rt("cp", "cp1:/made", str(out)).returncode == 0
    assert (out / "made").read_text() == "made\n" and (out / "made").stat().st_uid == 0
    assert rt("cp", "cp1:/tree", str(out / "t2")).returncode == 0
    assert (out / "t2/a/f").read_text() == "deep\n"
    assert rt("cp", "cp1:/data/.", str(out / "vol")).returncode == 0  # a volume's content, SRC/. form
    assert (out / "vol/v").read_text() == "v\n"
    assert rt("cp", str(host), "cp1:/tmp/").returncode == 0
    assert rt("cp", str(host), "cp1:/renamed").returncode == 0
    # through the container's link to its own root: lands in the container, not on the host's /
    assert rt("cp", str(host), "cp1:/escape/tmp/via-link").returncode == 0
    assert not Path("/tmp/via-link").exists()
    res = rt("exec", "cp1", "cat", "/tmp/in.txt", "/renamed", "/tmp/via-link")
    assert res.stdout == "from host\n" * 3, res.stderr
    res = rt("cp", "cp1:/nonexistent", str(out))
    assert res.returncode != 0
    # stopped: its overlay and volumes mounted for the copy only
    assert rt("stop", "-t", "0", "cp1").returncode == 0
    assert rt("cp", str(host), "cp1:/while-stopped").returncode == 0
    assert rt("cp", "cp1:/data/v", str(out / "v-stopped")).returncode == 0
    assert (out / "v-stopped").read_text() == "v\n"
    assert rt("start", "cp1").returncode == 0
    assert rt("exec", "cp1", "cat", "/while-stopped").stdout == "from host\n"
    # commit: the changes, the container's command by default, -c changes on top
    res = rt("commit", "-c", "CMD [\"cat\", \"/made\", \"/renamed\"]", "-c", "ENV FROM_COMMIT=yes", "cp1",
             "committed:1")
    assert res.returncode == 0 and res.stdout.startswith("sha256:"), res.stderr
    res = rt("run", "--rm", "committed:1")
    assert res.stdout == "made\nfrom host\n", res.stderr
    assert rt("run", "--rm", "committed:1", "sh", "-c", "echo $FROM_COMMIT; test -e /escape && echo link").stdout \
        == "yes\nlink\n"
    cfg = json.loads(rt("image", "inspect", "committed:1").stdout)
    assert "committed" in json.dumps(cfg)
    # save: an OCI layout tar that import reads back
    tar = tmp_path / "committed.tar"
    assert rt("save", "-o", str(tar), "committed:1").returncode == 0
    assert rt("import", str(tar), "reimported:1").returncode == 0
    assert rt("run", "--rm", "reimported:1").stdout == "made\nfrom host\n"
    assert rt("rm", "-f", "cp1").returncode == 0
    assert rt("rmi", "committed:1", "reimported:1").returncode == 0
    assert rt("volume", "rm", "cpvol").returncode == 0
