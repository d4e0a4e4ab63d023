"""`hostprep apply` on a real EL9 lab host over SSH: the task language (roles with dependencies, loops
with register, templates, key=value args, when on facts, block/rescue/always, handlers with listen)
converges, a second run changes nothing (exit 0 with --detailed-exitcode), and --check changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.integration.labutil import failures, hostprep, snapshot, ssh, summary, write_inventory

BOOK = Path(__file__).parents[1] / "data" / "playbooks" / "lab_language"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lang") / "project"
    shutil.copytree(BOOK, root)
    return root


def _events(proc) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def test_language_converges_then_is_idempotent_and_check_changes_nothing(lab, project: Path) -> None:
    (host,) = lab.up(1, "el9", "lang")
    inv = write_inventory(project / "inv.yml", [host])
    ssh(host, "rm -rf /srv/hp-lang")

    first = hostprep("apply", "-i", str(inv), "site.yml", "--json", "--detailed-exitcode", cwd=project)
    assert first.returncode == 2, (failures(first), first.stderr[-2000:])
    counts = summary(first)[host.name]
    # The rescued command counts as failed-then-rescued, not as a host failure.
    assert counts["failed"] == 0 and counts["rescued"] == 1 and counts["unreachable"] == 0, counts
    assert counts["skipped"] >= 1 and counts["changed"] >= 6, counts
    assert counts["round_trips"] > 0
    conf = ssh(host, "cat /srv/hp-lang/conf/app.conf").stdout
    assert conf == f"# langtest on {host.name}\nport=8081\nfamily=RedHat\ndir.1=conf\ndir.2=data\ndir.3=logs\n"
    assert ssh(host, "stat -c '%a %U' /srv/hp-lang/conf/app.conf /srv/hp-lang/logs").stdout.split("\n")[:2] == [
        "640 root", "750 root"]
    assert ssh(host, "cat /srv/hp-lang/logs/reloads").stdout == "reload\n"
    assert ssh(host, "cat /srv/hp-lang/rescued.txt").stdout == "failed=Read a file that is not there\n"
    assert ssh(host, "cat /srv/hp-lang/el.txt").stdout.strip() == "9"
    assert ssh(host, "test -e /srv/hp-lang/not-el.txt").returncode == 1
    loop_items = [e for e in _events(first) if e["event"] == "task_result" and e.get("task", "").endswith("App dirs")]
    assert loop_items, _events(first)[:5]

    before = snapshot(host) + ssh(host, "stat -c '%n %Y' /srv/hp-lang/data/marker").stdout
    second = hostprep("apply", "-i", str(inv), "site.yml", "--json", "--detailed-exitcode", cwd=project)
    assert second.returncode == 0, (failures(second), second.stdout[-3000:])
    again = summary(second)[host.name]
    assert again["changed"] == 0 and again["failed"] == 0 and again["rescued"] == 1, again
    assert ssh(host, "cat /srv/hp-lang/logs/reloads").stdout == "reload\n"  # handler not notified again

    ssh(host, "sed -i s/port=8081/port=1/ /srv/hp-lang/conf/app.conf")
    drifted = snapshot(host)
    check = hostprep("apply", "-i", str(inv), "site.yml", "--check", "--diff", "--detailed-exitcode", cwd=project)
    assert check.returncode == 2, check.stdout[-3000:] + check.stderr[-2000:]
    assert "-port=1" in check.stdout and "+port=8081" in check.stdout, check.stdout[-3000:]
    assert snapshot(host) == drifted
    assert ssh(host, "cat /srv/hp-lang/logs/reloads").stdout == "reload\n"  # handlers do not run in check

    third = hostprep("apply", "-i", str(inv), "site.yml", "--json", cwd=project)
    assert third.returncode == 0 and summary(third)[host.name]["changed"] == 2  # config + handler
    assert ssh(host, "cat /srv/hp-lang/logs/reloads").stdout == "reload\nreload\n"
    after = snapshot(host) + ssh(host, "stat -c '%n %Y' /srv/hp-lang/data/marker").stdout
    assert _without_reloads(after) == _without_reloads(before)  # drift repaired, nothing else moved


def _without_reloads(text: str) -> list[str]:
    return [line for line in text.splitlines() if "logs/reloads" not in line]
