"""Named and anonymous volumes, --mount, --tmpfs and single-file binds, as Docker has them: a volume is made on
first use and, empty, takes the image's content at its destination with the image's owners; it outlives its
containers; an image's VOLUME becomes an anonymous volume that --rm (or rm -v) removes; a volume in use cannot be
removed; prune takes unused anonymous volumes (-a: every unused one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def img(rt):
    """`volimg`: bb with /srv/data owned by 1000:1000 (mode 750) holding a file, and VOLUME /cache."""
    ctx = Path(rt.base) / "volctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text("FROM bb\nRUN mkdir -p /srv/data/sub /cache && echo seed > /srv/data/sub/f "
                                    "&& echo cached > /cache/c && chown -R 1000:1000 /srv/data && chmod 750 /srv/data"
                                    "\nVOLUME /cache\n")
    res = rt("build", "-t", "volimg", str(ctx))
    assert res.returncode == 0, res.stderr
    return "volimg"


def volume_names(rt) -> list[str]:
    res = rt("volume", "ls", "-q")
    assert res.returncode == 0, res.stderr
    return res.stdout.split()


def test_named_volume_copy_up_persistence_and_removal(rt, img: str) -> None:
    res = rt("run", "--rm", "-v", "pgdata:/srv/data", img, "sh", "-c",
             "stat -c '%u:%g %a' /srv/data; cat /srv/data/sub/f; stat -c '%u:%g' /srv/data/sub/f; "
             "echo kept > /srv/data/mine")
    assert res.returncode == 0 and res.stdout.split() == ["1000:1000", "750", "seed", "1000:1000"], (res.stdout,
                                                                                                    res.stderr)
    assert "pgdata" in volume_names(rt)
    info = json.loads(rt("volume", "inspect", "pgdata").stdout)[0]
    assert info["Name"] == "pgdata" and Path(info["Mountpoint"], "mine").read_text() == "kept\n"
    # a second container sees the data; the volume is no longer empty, so nothing is copied over it
    res = rt("run", "--name", "v-user", "-v", "pgdata:/srv/data:ro", img, "sh", "-c",
             "cat /srv/data/mine; touch /srv/data/x 2>/dev/null && echo wrote || echo refused")
    assert res.stdout.split() == ["kept", "refused"], (res.stdout, res.stderr)
    mounts = json.loads(rt("inspect", "v-user").stdout)["mounts"]
    assert {"Type": "volume", "Name": "pgdata", "Destination": "/srv/data", "RW": False}.items() <= \
        [m for m in mounts if m["Destination"] == "/srv/data"][0].items()
    res = rt("volume", "rm", "pgdata")
    assert res.returncode != 0 and "in use" in res.stderr, res.stderr
    assert rt("rm", "v-user").returncode == 0
    assert rt("volume", "rm", "pgdata").returncode == 0
    assert "pgdata" not in volume_names(rt) and not Path(info["Mountpoint"]).exists()


def test_nocopy_and_invalid_names(rt, img: str) -> None:
    res = rt("run", "--rm", "-v", "empty1:/srv/data:nocopy", img, "ls", "-A", "/srv/data")
    assert res.returncode == 0 and res.stdout == "", (res.stdout, res.stderr)
    res = rt("run", "--rm", "--mount", "type=volume,src=empty2,dst=/srv/data,volume-nocopy", img, "ls", "-A",
             "/srv/data")
    assert res.returncode == 0 and res.stdout == "", (res.stdout, res.stderr)
    for bad in ("x:/d", "a/b:/d", "_a:/d"):
        res = rt("run", "--rm", "-v", bad, img, "true")
        assert res.returncode == 125 and "invalid volume" in res.stderr, (bad, res.stderr)
    assert rt("volume", "rm", "empty1", "empty2").returncode == 0


def test_image_volume_is_anonymous_and_goes_with_rm(rt, img: str) -> None:
    rt("volume", "prune", "-f")  # anonymous volumes earlier tests' containers left (rm without -v keeps them)
    before = set(volume_names(rt))
    res = rt("run", "--rm", img, "cat", "/cache/c")
    assert res.stdout == "cached\n", res.stderr
    assert set(volume_names(rt)) == before  # --rm removed its anonymous volume
    res = rt("run", "--name", "anon", "-v", "/scratch", img, "sh", "-c", "cat /cache/c; touch /scratch/s")
    assert res.returncode == 0, res.stderr
    made = set(volume_names(rt)) - before
    assert len(made) == 2 and all(len(n) == 64 for n in made), made
    res = rt("volume", "prune", "-f")  # in use by the (stopped) container: kept
    assert set(volume_names(rt)) - before == made, res.stdout
    assert rt("rm", "-v", "anon").returncode == 0
    assert set(volume_names(rt)) == before


def test_prune_takes_anonymous_then_all_unused(rt, img: str) -> None:
    assert rt("volume", "create", "keepme").stdout.strip() == "keepme"
    anon = rt("volume", "create").stdout.strip()
    assert len(anon) == 64
    res = rt("volume", "prune", "-f")
    assert anon in res.stdout and "keepme" not in res.stdout, res.stdout
    res = rt("volume", "prune", "-a", "-f")
    assert "keepme" in res.stdout and "keepme" not in volume_names(rt), res.stdout


def test_tmpfs_mount_and_single_file_bind(rt, img: str, tmp_path: Path) -> None:
    res = rt("run", "--rm", "--tmpfs", "/run/t:size=1m,mode=700", "--mount", "type=tmpfs,target=/scratch", img,
             "sh", "-c", "grep -E ' /run/t | /scratch ' /proc/mounts; stat -c '%a' /run/t /scratch")
    lines = res.stdout.splitlines()
    assert res.returncode == 0 and len(lines) == 4, (res.stdout, res.stderr)
    run_t = [line for line in lines if " /run/t " in line][0]
    assert "tmpfs" in run_t and "noexec" in run_t and "size=1024k" in run_t, run_t
    assert "noexec" not in [line for line in lines if " /scratch " in line][0]
    assert lines[2:] == ["700", "1777"]
    conf = tmp_path / "app.conf"
    conf.write_text("from the host\n")
    res = rt("run", "--rm", "-v", f"{conf}:/etc/app.conf:ro", "--mount",
             f"type=bind,source={conf},target=/opt/app.conf", img, "sh", "-c",
             "cat /etc/app.conf; echo x >> /etc/app.conf 2>/dev/null || echo refused; echo added >> /opt/app.conf")
    assert res.stdout.split("\n")[:2] == ["from the host", "refused"], (res.stdout, res.stderr)
    assert conf.read_text() == "from the host\nadded\n"
    for bad in ("type=tmpfs,source=x,target=/t", "type=bind,target=/t", "type=nfs,target=/t", "source=v1"):
        res = rt("run", "--rm", "--mount", bad, img, "true")
        assert res.returncode == 125 and "invalid --mount" in res.stderr, (bad, res.stderr)
