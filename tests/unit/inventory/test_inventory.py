"""Inventory parsing, ranges, patterns, precedence and errors (pure logic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostprep.errors import InputError
from hostprep.inventory import load_inventory
from hostprep.inventory.ranges import expand_hosts


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_ranges() -> None:
    assert expand_hosts("web[01:03].x")[0] == ["web01.x", "web02.x", "web03.x"]
    assert expand_hosts("db-[a:c]")[0] == ["db-a", "db-b", "db-c"]
    assert expand_hosts("n[001:009:3]")[0] == ["n001", "n004", "n007"]
    assert expand_hosts("h[1:2]:2222") == (["h1", "h2"], 2222)
    assert expand_hosts("h[3:1]") == ([], None)  # as Ansible: a descending numeric range names no host
    with pytest.raises(InputError, match="bad host pattern"):
        expand_hosts("h[c:a]")


def test_ini_typing_and_port(tmp_path: Path) -> None:
    inv = load_inventory(str(write(tmp_path / "h.ini", "[g]\nh1:2200 a=1 b=yes c='x y' d=[1,2] e=True\n")))
    hv = inv.host_vars("h1")
    assert hv["ansible_port"] == 2200
    assert (hv["a"], hv["b"], hv["c"], hv["d"], hv["e"]) == (1, "yes", "x y", [1, 2], True)
    assert hv["group_names"] == ["g"]
    assert hv["inventory_hostname_short"] == "h1"


def test_precedence_inventory_and_playbook_dirs(tmp_path: Path) -> None:
    inv_dir = tmp_path / "inv"
    write(inv_dir / "hosts.ini", "[parent:children]\nchild\n[child]\nh1 v_host=inline\n[child:vars]\nv=child_ini\n"
          "[parent:vars]\nv=parent_ini\nonly_parent=1\n[all:vars]\nv=all_ini\n")
    write(inv_dir / "group_vars" / "all.yml", "v: inv_gv_all\nv_all: inv\n")
    write(inv_dir / "group_vars" / "parent.yml", "v: inv_gv_parent\n")
    write(inv_dir / "host_vars" / "h1.yml", "v_host: inv_host_vars\n")
    play = tmp_path / "play"
    write(play / "group_vars" / "all.yml", "v_all: play\n")
    write(play / "group_vars" / "child.yml", "v: play_gv_child\n")
    write(play / "host_vars" / "h1" / "a.yml", "v_host: play_host_vars\n")
    inv = load_inventory([str(inv_dir)])
    without = inv.host_vars("h1")
    assert without["v"] == "inv_gv_parent"  # group_vars files beat inventory-file group vars
    assert without["only_parent"] == 1
    assert without["v_all"] == "inv"
    assert without["v_host"] == "inv_host_vars"
    withplay = inv.host_vars("h1", playbook_dir=play)
    assert withplay["v"] == "play_gv_child"
    assert withplay["v_all"] == "play"
    assert withplay["v_host"] == "play_host_vars"


def test_child_group_beats_parent_and_priority(tmp_path: Path) -> None:
    text = ("[a]\nh\n[b]\nh\n[a:vars]\nx=a\n[b:vars]\nx=b\n")
    inv = load_inventory(str(write(tmp_path / "i.ini", text)))
    assert inv.host_vars("h")["x"] == "b"  # same depth: by name, b last
    text2 = text + "ansible_group_priority=0\n"  # b gets a lower priority than a's default 1
    inv2 = load_inventory(str(write(tmp_path / "j.ini", text2)))
    assert inv2.host_vars("h")["x"] == "a"


def test_patterns(tmp_path: Path) -> None:
    inv = load_inventory(str(write(tmp_path / "i.ini",
                                   "[web]\nw[1:4]\n[db]\nd1\nd2\n[prod:children]\nweb\ndb\n[eu]\nw1\nd1\n")))
    names = lambda p: [h.name for h in inv.select(p)]  # noqa: E731
    assert names("all") == ["w1", "d1", "w2", "w3", "w4", "d2"]  # the group tree's order, as `ansible all`
    assert names("web:db") == ["w1", "w2", "w3", "w4", "d1", "d2"]
    assert names("prod:&eu") == ["w1", "d1"]
    assert names("prod:!eu") == ["w2", "w3", "w4", "d2"]
    assert names("w*") == ["w1", "w2", "w3", "w4"]
    assert names("~d[12]") == ["d1", "d2"]
    assert names("web[0]") == ["w1"]
    assert names("web[1:2]") == ["w2", "w3"]
    assert names("web,d2") == ["w1", "w2", "w3", "w4", "d2"]
    retry = write(tmp_path / "site.retry", "w3\nd2\n")
    assert names(f"@{retry}") == ["w3", "d2"]
    assert names("nothing") == []


def test_errors_name_file_line_key(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.ini", "[web]\nh1\n[web:oops]\nx=1\n")
    with pytest.raises(InputError) as info:
        load_inventory(str(bad))
    assert f"{bad}:3" in str(info.value) and ":oops" in str(info.value)
    kv = write(tmp_path / "kv.ini", "[web]\nh1 novalue\n")
    with pytest.raises(InputError, match=r"kv.ini:2: novalue: expected key=value"):
        load_inventory(str(kv))
    yml = write(tmp_path / "bad.yml", "all:\n  children:\n    web:\n      hostz:\n        h1:\n")
    with pytest.raises(InputError, match=r"bad.yml:4: hostz: unknown key"):
        load_inventory(str(yml))
    cyc = write(tmp_path / "cyc.ini", "[a:children]\nb\n[b:children]\na\n")
    with pytest.raises(InputError, match="cycle"):
        load_inventory(str(cyc))
    broken = write(tmp_path / "broken.yml", "all:\n  hosts: [\n")
    with pytest.raises(InputError, match=r"broken.yml:\d+: malformed YAML"):
        load_inventory(str(broken))
    with pytest.raises(InputError, match="not found"):
        load_inventory(str(tmp_path / "missing.ini"))


def test_comma_list_source() -> None:
    inv = load_inventory("h1,h2:2022,")
    assert [h.name for h in inv.select("all")] == ["h1", "h2"]
    assert inv.host_vars("h2")["ansible_port"] == 2022
