"""What `rmi`, `image prune`, `container prune` and `system df` do to the store on disk: an image's blobs and
unpacked layers go once nothing uses them, never while another image or a container does."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from pathlib import Path

from tests.runtime.support import BUSYBOX


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer(files: dict[str, bytes], busybox: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        if busybox:
            t.add(BUSYBOX, arcname="bin/busybox")
            for applet in ("sh", "cat", "sleep", "true"):
                info = tarfile.TarInfo(f"bin/{applet}")
                info.type, info.linkname = tarfile.SYMTYPE, "busybox"
                t.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


BASE = _layer({}, busybox=True)


def _image(tmp: Path, name: str, top: bytes) -> Path:
    """A docker-save archive of two layers: the shared busybox base and `top`."""
    config = json.dumps({"config": {"Cmd": ["/bin/cat", "/msg"]},
                         "rootfs": {"type": "layers", "diff_ids": [_sha(BASE), _sha(top)]}}).encode()
    path = tmp / f"{name}.tar"
    with tarfile.open(path, "w") as t:
        for member, data in (("c.json", config), ("base/layer.tar", BASE), ("top/layer.tar", top),
                             ("manifest.json", json.dumps([{"Config": "c.json", "RepoTags": [name],
                                                            "Layers": ["base/layer.tar", "top/layer.tar"]}]).encode())):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


def _on_disk(rt) -> tuple[set[str], set[str]]:
    """(blobs, unpacked layers); a layer imported in one pass is its blob too: its files and a split file."""
    layers = list((rt.state / "layers").iterdir())
    return ({p.name for p in (rt.state / "oci/blobs/sha256").iterdir()} | {p.name for p in layers
                                                                          if (p / "split").exists()},
            {p.name for p in layers})


def _import(rt, tmp: Path, name: str, text: bytes) -> bytes:
    top = _layer({"msg": text})
    res = rt("import", str(_image(tmp, name, top)), name)
    assert res.returncode == 0, res.stderr
    return top


def test_rmi_removes_only_what_no_other_image_uses(rt, tmp_path: Path) -> None:
    baseline = _on_disk(rt)
    top_a = _import(rt, tmp_path, "gc-a", b"a\n")
    _import(rt, tmp_path, "gc-b", b"b\n")
    with_both = _on_disk(rt)
    base_hex, top_a_hex = _sha(BASE)[7:], _sha(top_a)[7:]
    assert {base_hex, top_a_hex} <= with_both[0] and {base_hex, top_a_hex} <= with_both[1]

    res = rt("rmi", "gc-a")
    assert res.returncode == 0, res.stderr
    assert "Untagged: gc-a:latest" in res.stdout and f"Deleted: sha256:{top_a_hex}" in res.stdout
    blobs, layers = _on_disk(rt)
    assert top_a_hex not in blobs and top_a_hex not in layers
    assert base_hex in blobs and base_hex in layers  # gc-b still uses the base
    assert rt("run", "--rm", "gc-b").stdout == "b\n"

    assert rt("rmi", "gc-b").returncode == 0
    assert _on_disk(rt) == baseline  # nothing of either image is left


def test_an_image_a_container_uses_is_kept_until_both_are_pruned(rt, tmp_path: Path) -> None:
    baseline = _on_disk(rt)
    _import(rt, tmp_path, "gc-used", b"used\n")
    ran = rt("run", "--name", "gc-user", "gc-used")
    assert ran.returncode == 0 and ran.stdout == "used\n", ran.stderr
    refused = rt("rmi", "gc-used")
    assert refused.returncode == 125 and "must force" in refused.stderr and "Traceback" not in refused.stderr
    forced = rt("rmi", "-f", "gc-used")
    assert forced.returncode == 0 and "Untagged: gc-used:latest" in forced.stdout
    assert "Deleted" not in forced.stdout  # the container still needs its layers
    kept = _on_disk(rt)
    assert kept != baseline
    df = rt("system", "df").stdout
    assert re.search(r"^Containers\s+1\s+0\s", df, re.M), df
    pruned = rt("container", "prune", "-f")
    assert pruned.returncode == 0 and "Deleted Containers:" in pruned.stdout, pruned.stderr
    assert "Total reclaimed space:" in pruned.stdout
    assert rt("image", "prune", "-f").returncode == 0
    assert _on_disk(rt) == baseline


def test_rmi_by_id_of_an_image_with_several_names_needs_force(rt, tmp_path: Path) -> None:
    _import(rt, tmp_path, "gc-multi", b"m\n")
    assert rt("tag", "gc-multi", "gc-multi:two").returncode == 0
    image_id = json.loads(rt("images", "--format", "json").stdout)
    digest = next(i["digest"] for i in image_id if i["name"] == "gc-multi:latest")
    refused = rt("rmi", digest[7:19])
    assert refused.returncode == 125 and "referenced in multiple repositories" in refused.stderr
    removed = rt("rmi", "-f", digest[7:19])
    assert removed.returncode == 0 and removed.stdout.count("Untagged:") == 2, removed.stderr
    assert "gc-multi" not in rt("images").stdout


def test_system_df_and_prune_all_keep_what_running_containers_use(rt, tmp_path: Path) -> None:
    _import(rt, tmp_path, "gc-idle", b"idle\n")
    keeper = rt("run", "-d", "bb", "sleep", "60")
    assert keeper.returncode == 0, keeper.stderr
    try:
        df = rt("system", "df")
        assert df.returncode == 0, df.stderr
        assert re.search(r"^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$", df.stdout, re.M), df.stdout
        images = re.search(r"^Images\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)", df.stdout, re.M)
        assert images and int(images.group(1)) >= 2 and images.group(2) == "1", df.stdout
        assert re.search(r"^Containers\s+\d+\s+1\s", df.stdout, re.M), df.stdout
        pruned = rt("image", "prune", "-a", "-f")
        assert pruned.returncode == 0 and "untagged: gc-idle:latest" in pruned.stdout, pruned.stderr
        names = rt("images").stdout
        assert "gc-idle" not in names and "bb:latest" in names  # bb is in use by the running container
    finally:
        rt("rm", "-f", keeper.stdout.strip())
