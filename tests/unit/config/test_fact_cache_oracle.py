"""ansible.cfg's `fact_caching = jsonfile` (with `gathering = smart` or implicit), checked against ansible-playbook.

Each tool runs the same two playbooks on two local hosts with its own cache directory: the first gathers
h1's facts and sets a cacheable and a plain fact; the second reads them in a play that does not gather,
then gathers. What each host saw (facts, cacheable facts, another host's facts) and the recap (which hosts
were gathered) must be the same. The cache files are each tool's own (ansible-core 2.19 writes `s1_`
files with a tagged payload, hostprep the plain JSON older ansible-core writes; hostprep reads both).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from hostprep.executor.jsonfile_cache import JsonFileCache
from tests.unit.config.test_ansible_cfg_oracle import project, run

FIRST = """
- hosts: h1
  tasks:
    - set_fact: {keep: kept, cacheable: true}
    - set_fact: {lose: lost}
"""
SECOND = """
- hosts: all
  gather_facts: false
  tasks:
    - debug:
        msg: "{{ inventory_hostname }} {{ ansible_facts.distribution | default('none') }} {{ keep | default('nokeep') }}
          {{ lose | default('nolose') }} {{ ansible_os_family | default('nofam') }}
          {{ hostvars['h1'].ansible_facts.os_family | default('noh1') }}"
- hosts: all
  tasks:
    - debug: {msg: "{{ inventory_hostname }} gathered {{ ansible_facts.distribution | default('none') }}"}
"""


def seen(out: str) -> list[str]:
    """The debug messages (sorted: hosts run in parallel) and the recap lines."""
    msgs = sorted(re.findall(r'"msg": "([^"]*)"', out))
    recap = [re.sub(r"\s+", " ", line.strip()) for line in out.splitlines() if re.match(r"^h\d\s+:", line)]
    return msgs + recap


def runs(tmp_path: Path, cfg: str, between=None, second_args: tuple[str, ...] = ()) -> dict[str, list[str]]:
    out = {}
    for tool in ("ansible-playbook", "hostprep"):
        work = project(tmp_path, tool, cfg, FIRST)
        (work / "second.yml").write_text(SECOND)
        first = run(tool, work, "-i", "hosts.ini", "site.yml", cfg=work / "ansible.cfg")
        assert first.returncode == 0, first.stdout + first.stderr
        if between is not None:
            between(work / "cache")
        second = run(tool, work, "-i", "hosts.ini", "second.yml", *second_args, cfg=work / "ansible.cfg")
        assert second.returncode == 0, second.stdout + second.stderr
        out[tool] = seen(second.stdout)
    return out


SMART = "[defaults]\ngathering = smart\nfact_caching = jsonfile\nfact_caching_connection = cache\n"


def test_smart_gathering_uses_the_jsonfile_cache_like_ansible(tmp_path: Path) -> None:
    got = runs(tmp_path, SMART)
    assert got["hostprep"] == got["ansible-playbook"]
    # h1 came from the cache (the cacheable fact too, the plain one not) and was not gathered again
    assert any(m.startswith("h1 Debian kept nolose Debian Debian") for m in got["hostprep"]), got
    assert "h1 : ok=2" in " ".join(got["hostprep"]) and "h2 : ok=3" in " ".join(got["hostprep"]), got


def test_implicit_gathering_gathers_again_but_still_reads_the_cache(tmp_path: Path) -> None:
    got = runs(tmp_path, SMART.replace("smart", "implicit"))
    assert got["hostprep"] == got["ansible-playbook"]
    assert "h1 : ok=3" in " ".join(got["hostprep"]), got


def test_expired_cache_entries_are_not_used(tmp_path: Path) -> None:
    def age(cache: Path) -> None:
        old = time.time() - 120
        for path in cache.iterdir():
            os.utime(path, (old, old))

    got = runs(tmp_path, SMART + "fact_caching_timeout = 60\n", between=age)
    assert got["hostprep"] == got["ansible-playbook"]
    assert any(m.startswith("h1 none nokeep") for m in got["hostprep"]), got


@pytest.mark.parametrize("how", ["flag", "env"])
def test_flush_cache_forgets_the_cached_facts(tmp_path: Path, how: str) -> None:
    cfg = SMART if how == "flag" else SMART.replace("fact_caching_connection = cache\n", "")
    if how == "flag":
        got = runs(tmp_path, cfg, second_args=("--flush-cache",))
    else:  # no connection: Ansible warns and keeps facts in memory only (nothing survives the run)
        got = runs(tmp_path, cfg)
    assert got["hostprep"] == got["ansible-playbook"]
    assert any(m.startswith("h1 none nokeep") for m in got["hostprep"]), got


def test_reads_ansible_core_2_19_cache_files(tmp_path: Path) -> None:
    payload = {"ansible_distribution": {"value": "Debian", "tags": [], "__ansible_type": "_AnsibleTaggedStr"},
               "keep": {"value": 1, "tags": [{"path": "x.yml", "__ansible_type": "Origin"}],
                        "__ansible_type": "_AnsibleTaggedInt"},
               "ansible_lsb": {"id": "Debian"}, "_ansible_facts_gathered": True}
    (tmp_path / "s1_web").write_text(json.dumps({"__payload__": json.dumps(payload)}))
    cache = JsonFileCache(tmp_path, timeout=0)
    assert cache.get("web") == {"ansible_distribution": "Debian", "keep": 1, "ansible_lsb": {"id": "Debian"},
                                "_ansible_facts_gathered": True}
    assert cache.get("other") is None
    cache.set("web", {"ansible_distribution": "Debian"})  # written plain, read first
    assert cache.get("web") == {"ansible_distribution": "Debian"}
    assert cache.flush("web") and cache.get("web") is None
