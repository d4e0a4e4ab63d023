"""Facts in one round trip (counted), checked against Ansible's own setup module on the same lab hosts."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from hostprep.facts import gather_facts
from hostprep.transport.connect import open_transport
from tests.integration.ansible_versions import ansible_bin
from tests.integration.labutil import hostprep, summary, write_inventory

KEYS = ["distribution", "distribution_major_version", "os_family", "pkg_mgr", "service_mgr", "architecture",
        "hostname", "system", "kernel", "processor_vcpus", "user_id", "user_uid", "fqdn"]


@pytest.mark.parametrize("flavor", ["el9", "el7"])
def test_facts_match_ansible_setup(lab, tmp_path: Path, flavor: str) -> None:
    hosts = lab.up(1, flavor, f"facts{flavor[-1]}")
    (h,) = hosts
    inv = write_inventory(tmp_path / "inv.yml", hosts)
    proc = hostprep("facts", "-i", str(inv), "all")
    assert proc.returncode == 0, proc.stderr
    ours = json.loads(proc.stdout)[h.name]
    cfg = tmp_path / "ansible.cfg"
    # the release's own Python, with the ansible-core that manages it (2.16 on EL7: ansible_versions.py)
    cfg.write_text("[defaults]\nhost_key_checking = True\ninterpreter_python = auto_silent\n"
                   "deprecation_warnings = False\n")
    env = dict(os.environ, ANSIBLE_CONFIG=str(cfg), ANSIBLE_HOME=str(tmp_path / "ah"), ANSIBLE_NOCOLOR="1")
    ans = subprocess.run([str(ansible_bin(flavor) / "ansible"), "-i", str(inv), h.name, "-m", "setup"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert ans.returncode == 0, ans.stdout[-2000:] + ans.stderr[-2000:]
    theirs = json.loads(ans.stdout[ans.stdout.index("{"):])["ansible_facts"]  # "host | SUCCESS => {...}"
    for key in KEYS:
        assert str(ours[key]) == str(theirs[f"ansible_{key}"]), key
    assert ours["default_ipv4"]["address"] == theirs["ansible_default_ipv4"]["address"] == h.address
    assert abs(ours["memtotal_mb"] - theirs["ansible_memtotal_mb"]) <= 2
    assert ours["distribution_version"].split(".")[0] == theirs["ansible_distribution_version"].split(".")[0]


GATHER_ONLY = """- hosts: all
  gather_facts: true
  tasks:
    - name: Show a fact
      debug:
        msg: "distribution={{ ansible_distribution }} {{ ansible_distribution_major_version }}"
"""


@pytest.mark.parametrize("flavor", ["el9", "el7"])
def test_facts_take_one_round_trip(lab, tmp_path: Path, flavor: str) -> None:
    """Counted, not promised: the gathering `hostprep facts` uses costs the transport one round trip, and a play
    that gathers facts with no cache to help it (--flush-cache) reports round_trips == 1 in its --json summary."""
    (h,) = lab.up(1, flavor, f"facts{flavor[-1]}")
    t = open_transport(h.name, h.hostvars)
    try:
        facts = gather_facts(t)
        assert t.round_trips == 1, t.round_trips
    finally:
        t.close()
    assert facts["distribution_major_version"] == flavor[-1], facts.get("distribution_major_version")
    inv = write_inventory(tmp_path / "inv.yml", [h])
    book = tmp_path / "gather.yml"
    book.write_text(GATHER_ONLY)
    proc = hostprep("apply", "-i", str(inv), str(book), "--json", "--flush-cache")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    shown = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{") and '"Show a fact"' in x]
    assert shown and f"distribution={facts['distribution']} {flavor[-1]}" in json.dumps(shown), shown
    assert summary(proc)[h.name]["round_trips"] == 1, summary(proc)
