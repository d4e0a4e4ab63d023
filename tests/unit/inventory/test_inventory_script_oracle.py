"""Executable inventory scripts (--list / --host) read as ansible-inventory reads them; plugin files refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent

WITH_META = {
    "web": {"hosts": ["w1", "w2"], "vars": {"http_port": 80}, "children": ["edge"]},
    "edge": ["e1"],
    "db": {"hosts": ["d1"]},
    "all": {"vars": {"ntp": "pool.example"}},
    "_meta": {"hostvars": {"w1": {"ansible_host": "10.0.0.1", "role": "front"}, "d1": {"big": True},
                           "solo": {"lonely": 1}}},
}


def script(tmp: Path, name: str, listing: dict, hostvars: dict | None = None) -> Path:
    path = tmp / name
    path.write_text(f"""#!{sys.executable}
import json, sys
if sys.argv[1:] == ["--list"]:
    print({json.dumps(listing)!r})
elif sys.argv[1] == "--host":
    print(json.dumps(json.loads({json.dumps(hostvars or {})!r}).get(sys.argv[2], {{}})))
else:
    sys.exit(1)
""")
    path.chmod(0o755)
    return path


def run(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(cwd / ".ansible")}
    cmd = [str(BIN / tool), *(["inventory"] if tool == "hostprep" else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def both(*args: str, cwd: Path) -> tuple[dict, dict]:
    ours, theirs = run("hostprep", *args, cwd=cwd), run("ansible-inventory", *args, cwd=cwd)
    assert ours.returncode == theirs.returncode == 0, ours.stderr + theirs.stderr
    return json.loads(ours.stdout), json.loads(theirs.stdout)


@pytest.mark.parametrize("meta", [True, False], ids=["_meta", "--host"])
def test_script_inventory_lists_what_ansible_inventory_lists(tmp_path: Path, meta: bool) -> None:
    listing = dict(WITH_META)
    hostvars = None
    if not meta:
        hostvars = listing.pop("_meta")["hostvars"]
        hostvars.pop("solo")
    inv = script(tmp_path, "inv.py", listing, hostvars)
    ours, theirs = both("-i", str(inv), "--list", cwd=tmp_path)
    assert ours == theirs
    for host in ("w1", "e1", "d1"):
        assert both("-i", str(inv), "--host", host, cwd=tmp_path)[0] == \
            both("-i", str(inv), "--host", host, cwd=tmp_path)[1]


def test_script_in_an_inventory_directory_runs_too(tmp_path: Path) -> None:
    directory = tmp_path / "inventory"
    directory.mkdir()
    script(directory, "dynamic", WITH_META)
    (directory / "static.ini").write_text("[db]\nd2\n")
    ours, theirs = both("-i", str(directory), "--list", cwd=tmp_path)
    assert ours == theirs and "d2" in ours["db"]["hosts"]


def test_failing_script_and_plugin_file_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/sh\necho nope >&2\nexit 4\n")
    bad.chmod(0o755)
    proc = run("hostprep", "-i", str(bad), "--list", cwd=tmp_path)
    assert proc.returncode == 3 and "exited 4: nope" in proc.stderr, proc.stderr
    plugin = tmp_path / "aws_ec2.yml"
    plugin.write_text("plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n")
    proc = run("hostprep", "-i", str(plugin), "--list", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "inventory plugin amazon.aws.aws_ec2 is not supported by hostprep" in proc.stderr
    assert "aws_ec2.yml:1" in proc.stderr
