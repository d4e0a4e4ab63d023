"""The fast path over SSH on a lab host: a converged host costs one round trip; a host that drifted
is put right task by task from the first task that must change, and tasks after it see the change;
check mode reports drift without touching the host."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.integration.labutil import failures, hostprep, ssh, summary, write_inventory

BOOK = textwrap.dedent("""
    - hosts: all
      become: true
      tasks:
        - package: {name: [lvm2], state: present}
        - yum: {name: device-mapper-persistent-data, state: present}
        - group: {name: fastgrp}
        - user: {name: fastuser, groups: [fastgrp], append: true}
        - file: {path: /srv/fast, state: directory, mode: "0750", owner: fastuser}
        - copy: {dest: /srv/fast/a.conf, content: "a=1\\n", mode: "0640", force: false}
        - lineinfile: {path: /srv/fast/a.conf, line: "b=2"}
        - template: {src: fast.j2, dest: /srv/fast/t.conf}
        - copy: {dest: /etc/systemd/system/fast.service, content: "[Service]\\nExecStart=/bin/sleep infinity\\n"}
        - systemd: {name: fast, state: started, daemon_reload: false}
        - file: {path: "/srv/fast/d-{{ item }}", state: directory}
          loop: [1, 2, 3]
        - command: cat /srv/fast/a.conf
          register: conf
          changed_when: false
        - command: systemctl is-active fast
          changed_when: false
        - assert: {that: ['conf.stdout == "a=1\\nb=2"']}
          when: not ansible_check_mode
""")


def _apply(tmp: Path, inv: Path, *extra: str) -> dict:
    proc = hostprep("apply", "-i", str(inv), str(tmp / "site.yml"), "--json", *extra, cwd=tmp)
    assert proc.returncode == 0 and not failures(proc), (proc.stdout[-3000:], proc.stderr[-2000:])
    return next(iter(summary(proc).values()))


def test_round_trips_on_a_converged_a_drifted_and_a_checked_host(lab, tmp_path: Path) -> None:
    (tmp_path / "site.yml").write_text(BOOK)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "fast.j2").write_text("host={{ inventory_hostname }}\n")
    hosts = lab.up(1, "el9", "fast")
    (host,) = hosts
    inv = write_inventory(tmp_path / "inv.yml", hosts, deploy=True)
    first = _apply(tmp_path, inv)
    assert first["changed"] >= 8, first
    converged = _apply(tmp_path, inv)
    assert converged["changed"] == 0, converged
    # one round trip for facts and every probe, one for the two read-only checks at the end
    assert converged["round_trips"] == 2, converged
    slow = _apply(tmp_path, inv, "--no-fast-path")
    assert slow["changed"] == 0 and slow["round_trips"] >= 14, slow

    # drift: the line is gone. The check after lineinfile must see the fixed file (its assert holds)
    assert ssh(host, "sed -i '/^b=2$/d' /srv/fast/a.conf").returncode == 0
    checked = _apply(tmp_path, inv, "--check")
    assert checked["changed"] == 1 and checked["round_trips"] == 1, checked
    assert ssh(host, "cat /srv/fast/a.conf").stdout == "a=1\n"
    fixed = _apply(tmp_path, inv)
    assert fixed["changed"] == 1, fixed
    # one batch for everything, the change (an upload under sudo: up to 3 round trips), then step by
    # step with a widening guess (1 task, then 4, ...), the checks
    assert 4 <= fixed["round_trips"] <= 8 < slow["round_trips"], fixed
    assert ssh(host, "cat /srv/fast/a.conf").stdout == "a=1\nb=2\n"
    again = _apply(tmp_path, inv)
    assert again["changed"] == 0 and again["round_trips"] == 2, again
