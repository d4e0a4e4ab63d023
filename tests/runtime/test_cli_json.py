"""The machine-readable outputs that roles/runtime's modules read: `ps --format json`, `images --format json`
and the "config" a container was started with (under each interpreter of the `rt` fixture)."""

from __future__ import annotations

import json


def test_images_json_names_digest_and_id(rt) -> None:
    res = rt("images", "--format", "json")
    assert res.returncode == 0, res.stderr
    images = json.loads(res.stdout)
    names = {i["name"]: i for i in images}
    assert "bb:latest" in names
    assert names["bb:latest"]["digest"].startswith("sha256:")
    assert names["bb:latest"]["id"].startswith("sha256:")
    assert names["bb:latest"]["id"] != names["bb:latest"]["digest"]


def test_ps_json_shows_the_options_a_container_was_started_with(rt) -> None:
    res = rt("run", "-d", "--name", "cfg", "-m", "64m", "--cpus", "0.5", "--pids-limit", "20", "-e", "A=1",
             "--read-only", "bb", "sleep", "30")
    assert res.returncode == 0, res.stderr
    try:
        running = json.loads(rt("ps", "--format", "json").stdout)
        mine = [s for s in running if s["name"] == "cfg"]
        assert len(mine) == 1 and mine[0]["status"] == "running"
        cfg = mine[0]["config"]
        image_id = {i["name"]: i["id"] for i in json.loads(rt("images", "--format", "json").stdout)}["bb:latest"]
        assert cfg == {"image_id": image_id, "cmd": ["sleep", "30"], "entrypoint": None, "env": ["A=1"],
                       "user": None, "workdir": None, "hostname": None, "memory": 64 * 1024 * 1024, "cpus": 0.5,
                       "pids_limit": 20, "volumes": [], "read_only": True, "network": "none", "init": False,
                       "restart": "no", "health_cmd": None, "log_opt": [], "tmpfs": [], "publish": []}
        assert json.loads(rt("inspect", "cfg").stdout)["config"] == cfg
    finally:
        rt("rm", "-f", "cfg")
    assert [s for s in json.loads(rt("ps", "-a", "--format", "json").stdout) if s["name"] == "cfg"] == []
