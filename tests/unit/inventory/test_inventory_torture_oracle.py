"""Torture inventories (tests/data/inventories/README.md) through hostprep and the real ansible-core.

`hostprep inventory --list`, `--list --export`, `--graph`, `--limit` and `--host H` for every host must
print what ansible-inventory prints, and host patterns must select what `ansible PATTERN --list-hosts`
selects, in the same order. ansible-inventory runs in one process that forks once per command (its
CLI cannot run twice in one process), so the many `--host` runs stay fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hostprep.cli.main import cli
from hostprep.errors import InputError
from hostprep.inventory import load_inventory

DATA = Path(__file__).resolve().parents[2] / "data" / "inventories"
BIN = Path(sys.executable).parent

CASES: dict[str, list[str]] = {
    "ini_torture": [str(DATA / "ini_torture" / "hosts.ini")],
    "yaml_torture": [str(DATA / "yaml_torture" / "hosts.yml")],
    "vars_forms": [str(DATA / "vars_forms" / "hosts.ini")],
    "dir_torture": [str(DATA / "dir_torture")],
    "ini_extras": [str(DATA / "ini_extras")],
    "yaml_extras": [str(DATA / "yaml_extras")],
    "vault_inline": [str(DATA / "vault_inline" / "hosts.yml")],
    "merged": [str(DATA / "merge_a" / "hosts.ini"), str(DATA / "merge_b"), "m1,x[1:2],10.0.0.1:2222,[fe80::2]:22,"],
    "merged_reversed": ["m1,x[1:2],", str(DATA / "merge_b"), str(DATA / "merge_a" / "hosts.ini"),
                        str(DATA / "yaml_torture" / "hosts.yml"), str(DATA / "dir_torture")],
    "patterns": [str(DATA / "patterns" / "hosts.ini"), "x[1:2],y[0],"],
}

EXTRA = {"vault_inline": ["--vault-password-file", str(DATA / "vault_inline" / "vault-pass.txt")]}
LIMITS = {"ini_torture": "prod:!web", "yaml_torture": "app:&dup", "merged": "app[1:]", "patterns": "g1:g2"}

PATTERNS = [
    "all", "*", "web*", "*0*", "~web0[13]", "~(db|app)", "web:db", "web:&db", "web:!db", "app:!web:!db",
    "web,db", "web, db ,  g1", "g1[0]", "g1[1:3]", "g1[-1]", "g1[2:]", "g1[1-2]", "g1[0:0]", "web*[0:2]",
    "g1:&g2", "g1:g2:!n4", "&g1", "!g1", "ungrouped", "ungr*", "al*", "all-caps", "ALL*", "loner:x1",
    "x[1:2]", "y[0]", "web[1:3]", "10.0.0.1", "10.0.0.*", "fe80::1", "fe80::*", "dotted.group",
    "*.example", "nothing", "nothing:web01", "web01,nothing,db02", "app", "app:&web[0:1]",
]
BAD_PATTERNS = ["g1[7]", "~(unclosed"]


def _env(tmp: Path) -> dict[str, str]:
    cfg = tmp / "ansible.cfg"
    cfg.write_text("[defaults]\ndeprecation_warnings = False\nlocalhost_warning = False\n"
                   "host_pattern_mismatch = ignore\n")
    return dict(os.environ, ANSIBLE_CONFIG=str(cfg), ANSIBLE_HOME=str(tmp / "ah"), ANSIBLE_NOCOLOR="1")


_ANSIBLE_INVENTORY = r"""
import json, os, sys, tempfile
from ansible.cli.inventory import InventoryCLI
out = []
for argv in json.loads(sys.argv[1]):
    with tempfile.TemporaryFile() as f:
        pid = os.fork()
        if pid == 0:
            os.dup2(f.fileno(), 1)
            try:
                rc = InventoryCLI(["ansible-inventory", *argv]).run()
            except SystemExit as exc:
                rc = exc.code
            except BaseException:
                rc = 99
            sys.stdout.flush()
            os._exit(rc or 0)
        _, status = os.waitpid(pid, 0)
        f.seek(0)
        out.append([os.waitstatus_to_exitcode(status), f.read().decode()])
print(json.dumps(out))
"""

_ANSIBLE_PATTERNS = r"""
import json, sys
from ansible.errors import AnsibleError
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
sources, patterns = json.loads(sys.argv[1])
out = {}
for pattern in patterns:
    inventory = InventoryManager(loader=DataLoader(), sources=sources)
    try:
        out[pattern] = inventory.list_hosts(pattern)
        out[pattern] = [h.name for h in out[pattern]]
    except AnsibleError:
        out[pattern] = "error"
print(json.dumps(out))
"""


def _ansible(script: str, arg: object, env: dict[str, str]) -> object:
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(arg)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _ansible_inventory(runs: list[list[str]], env: dict[str, str]) -> list[tuple[int, str]]:
    results = _ansible(_ANSIBLE_INVENTORY, runs, env)
    assert isinstance(results, list)
    return [(rc, text) for rc, text in results]


def _hostprep(argv: list[str], env: dict[str, str]) -> str:
    result = CliRunner().invoke(cli, ["inventory", *argv], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _i(sources: list[str]) -> list[str]:
    return [arg for s in sources for arg in ("-i", s)]


@pytest.mark.parametrize("case", sorted(CASES))
def test_torture_inventory_matches_ansible_inventory(case: str, tmp_path: Path) -> None:
    env = _env(tmp_path)
    base = _i(CASES[case]) + EXTRA.get(case, [])
    modes = [["--list"], ["--list", "--export"], ["--graph"]]
    if case in LIMITS:
        modes.append(["--list", "--limit", LIMITS[case]])
    (rc, listing), = _ansible_inventory([[*base, "--list"]], env)
    assert rc == 0
    data = json.loads(listing)
    hosts = sorted({*data["_meta"]["hostvars"], *(h for g in data.values() for h in g.get("hosts", []))})
    assert hosts, "the case must have hosts"
    runs = modes + [["--host", h] for h in hosts]
    theirs = _ansible_inventory([[*base, *m] for m in runs], env)
    for mode, (rc, expected) in zip(runs, theirs, strict=True):
        assert rc == 0, mode
        ours = _hostprep([*base, *mode], env)
        if mode == ["--graph"]:
            assert ours.strip() == expected.strip(), mode
        else:
            assert json.loads(ours) == json.loads(expected), mode


@pytest.mark.parametrize("case", ["patterns", "ini_torture", "yaml_torture", "merged"])
def test_host_patterns_match_ansible(case: str, tmp_path: Path) -> None:
    env = _env(tmp_path)
    patterns = PATTERNS + BAD_PATTERNS + ["prod", "prod:!web", "db-servers:&web", "v6[1:]", "café",
                                          "hôte-*", "~^1", "0*", "backend[0]", "dup:!backend"]
    theirs = _ansible(_ANSIBLE_PATTERNS, [CASES[case], patterns], env)
    assert isinstance(theirs, dict)
    for pattern in patterns:
        inv = load_inventory(CASES[case])
        try:
            ours: object = [h.name for h in inv.select(pattern)]
        except InputError:
            ours = "error"
        assert ours == theirs[pattern], pattern


def test_the_pattern_oracle_is_the_ansible_command(tmp_path: Path) -> None:
    """The in-process pattern oracle agrees with `ansible PATTERN -i INV --list-hosts` itself."""
    env = _env(tmp_path)
    sources = CASES["patterns"]
    for pattern in ("g1:g2:!n4", "web*[0:2]", "all"):
        proc = subprocess.run([str(BIN / "ansible"), pattern, *_i(sources), "--list-hosts"], capture_output=True,
                              text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        listed = [line.strip() for line in proc.stdout.splitlines()[1:] if line.strip()]
        assert listed == [h.name for h in load_inventory(sources).select(pattern)], pattern


@pytest.mark.parametrize(("text", "line", "key"), [
    ("[web]\nh1\n[db:vars]\nx=1\n", 3, "db"),  # :vars of a group never declared
    ("[app:children]\nweb\n[db]\nh2\n", 2, "web"),  # a child group never declared
    ("[web]\nh1 novalue\n", 2, "novalue"),
    ("[web]\nh[1:3\n", 2, "h[1:3"),
    ("[web]\nh[01:100]\n", 2, "h[01:100]"),
    ("[bad group]\nh1\n", 1, "[bad group]"),
    ("[web]\nh1:\n", 2, "h1:"),
    ("[web]\nh1 x='unclosed\n", 2, None),
])
def test_inventories_ansible_rejects_are_refused_with_file_line_key(text: str, line: int, key: str | None,
                                                                     tmp_path: Path) -> None:
    """What ansible-inventory cannot parse (it warns and goes on with an empty inventory), hostprep
    refuses, naming file, line and key."""
    path = tmp_path / "hosts.ini"
    path.write_text(text)
    env = _env(tmp_path)
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(path), "--list"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert "Unable to parse" in proc.stderr or proc.returncode != 0, proc.stderr
    with pytest.raises(InputError) as info:
        load_inventory([str(path)])
    assert f"{path}:{line}" in str(info.value)
    if key is not None:
        assert info.value.key == key


def test_unquoted_numeric_yaml_host_name_is_refused(tmp_path: Path) -> None:
    """Ansible refuses `1.10:` as a YAML host name (a float); hostprep too, rather than read it as `1.1`."""
    path = tmp_path / "hosts.yml"
    path.write_text("web:\n  hosts:\n    ok:\n    1.10:\n")
    with pytest.raises(InputError) as info:
        load_inventory([str(path)])
    assert f"{path}:4" in str(info.value) and "quote it" in str(info.value)


_ANSIBLE_SPLIT = r"""
import json, sys
from ansible.inventory.manager import split_host_pattern
from ansible.plugins.inventory.ini import InventoryModule
ini = InventoryModule()
splits, hosts = json.loads(sys.argv[1])
expanded = {}
for text in hosts:
    try:
        expanded[text] = list(ini._expand_hostpattern(text))
    except Exception:
        expanded[text] = "error"
print(json.dumps({"split": {p: split_host_pattern(p) for p in splits}, "expand": expanded}))
"""

SPLITS = ["fe80::1", "[fe80::1]:22", "h:22", "h_:22", "web[01:03]:22", "a:b", "ab:cd:ef", "fe80::1%eth0",
          "web:&db:!x", "10.0.0.1:22", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "g1[1:2]:g2", "web db", " a , b ,",
          "g[0]:!g[1]", "~web[0-9]:db", "host-:22", "é:22"]
HOST_PATTERNS = ["web[01:10:2].x", "db-[a:f]", "[a:c]x", "h[A:c]", "x[1:3]-[a:b]", "h[0:3:3]", "h[:3]",
                 "h[9:11]", "h[001:010:3]", "2001:db8::[a:c]", "192.0.2.[1:3]:2022", "[fe80::1]:22", "h_:22",
                 "web[01:03]:22", "h[Z:a]", "h[a:Z]", "h[01:100]", "h[5:1]", "h[a:c:2]", "h[1:3", "h1:",
                 "host-:22", "h[x]", "h[1:2:0]"]


def test_pattern_splitting_and_host_ranges_match_ansible(tmp_path: Path) -> None:
    from hostprep.inventory.patterns import split_pattern
    from hostprep.inventory.ranges import expand_hosts

    theirs = _ansible(_ANSIBLE_SPLIT, [SPLITS, HOST_PATTERNS], _env(tmp_path))
    assert isinstance(theirs, dict)
    for pattern in SPLITS:
        assert split_pattern(pattern) == theirs["split"][pattern], pattern
    for text in HOST_PATTERNS:
        try:
            ours: object = list(expand_hosts(text))
        except InputError:
            ours = "error"
        assert ours == theirs["expand"][text], text
