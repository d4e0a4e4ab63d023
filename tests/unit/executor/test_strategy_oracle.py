"""ansible-playbook as the oracle of the strategies: the same three-host playbook under both tools, with
`ANSIBLE_STRATEGY` set to linear and to free (hostprep honours it too), on local-connection hosts.

Every task appends `<host> <label>` to one shared log, so the log is the order in which tasks started
on the hosts. Compared with Ansible's run: under linear the sequence of tasks (each with the set of
hosts that ran it), the TASK/HANDLER headers, run_once on the first host of `order: reverse_inventory`
with its registered result seen by every host, a rescued failure, any_errors_fatal stopping every host;
under free each host's own sequence, and that a slow host does not hold the others back. Both: the recap.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from itertools import groupby
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
HOSTS = ("h1", "h2", "h3")

PLAYBOOK = """
- name: the strategy under test
  hosts: all
  gather_facts: false
  order: reverse_inventory
  tasks:
    - name: one
      shell: "{{ 'sleep 4; ' if inventory_hostname == 'h1' else '' }}echo {{ inventory_hostname }} one >> {{ log }}"
      notify: bump
    - name: two
      shell: echo {{ inventory_hostname }} two >> {{ log }}
    - name: once
      shell: echo {{ inventory_hostname }} once >> {{ log }}; echo {{ inventory_hostname }}
      register: picked
      run_once: true
    - name: record once
      shell: echo {{ inventory_hostname }} saw-{{ picked.stdout }} >> {{ log }}
    - block:
        - name: fails on h2
          shell: echo {{ inventory_hostname }} try >> {{ log }}; test {{ inventory_hostname }} != h2
      rescue:
        - name: rescued
          shell: echo {{ inventory_hostname }} rescued >> {{ log }}
      always:
        - name: always
          shell: echo {{ inventory_hostname }} always >> {{ log }}
  handlers:
    - name: bump
      shell: echo {{ inventory_hostname }} handler >> {{ log }}

- name: any_errors_fatal
  hosts: all
  gather_facts: false
  strategy: linear
  any_errors_fatal: true
  tasks:
    - name: fatal on h3
      shell: echo {{ inventory_hostname }} fatal >> {{ log }}; test {{ inventory_hostname }} != h3
    - name: never
      shell: echo {{ inventory_hostname }} never >> {{ log }}
"""


SERIAL_PLAYBOOK = """
- name: serial batches and max_fail_percentage
  hosts: all
  gather_facts: false
  serial: 2
  max_fail_percentage: 40
  tasks:
    - block:
        - name: rescued on h1
          shell: echo {{ inventory_hostname }} try >> {{ log }}; test {{ inventory_hostname }} != h1
      rescue:
        - name: rescue
          shell: echo {{ inventory_hostname }} rescued >> {{ log }}
    - name: fails on h2
      shell: echo {{ inventory_hostname }} step >> {{ log }}; test {{ inventory_hostname }} != h2
    - name: after
      shell: echo {{ inventory_hostname }} after >> {{ log }}
"""


def _run(tool: str, strategy: str, tmp: Path, book: str = PLAYBOOK) -> tuple[subprocess.CompletedProcess,
                                                                            list[tuple[str, str]]]:
    work = tmp / f"{tool}-{strategy}"
    work.mkdir()
    log = work / "log"
    (work / "site.yml").write_text(textwrap.dedent(book))
    (work / "inv.ini").write_text("".join(f"{h} ansible_connection=local ansible_python_interpreter={sys.executable}\n"
                                          for h in HOSTS) + f"[all:vars]\nlog={log}\n")
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(work / ".tmp"),
           "ANSIBLE_HOME": str(work / ".ansible"), "ANSIBLE_RETRY_FILES_ENABLED": "0",
           "ANSIBLE_STRATEGY": strategy, "ANSIBLE_FORKS": "5"}
    env.pop("HOSTPREP_STRATEGY", None)
    args = ["apply", "--progress", "lines"] if tool == "hostprep" else []
    proc = subprocess.run([str(BIN / tool), *args, "-i", str(work / "inv.ini"), str(work / "site.yml")],
                          capture_output=True, text=True, cwd=work, env=env, timeout=300)
    assert log.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [tuple(line.split()) for line in log.read_text().splitlines()]
    return proc, lines  # type: ignore[return-value]


def _recap(stdout: str) -> dict[str, dict[str, int]]:
    out = {}
    for line in stdout.split("PLAY RECAP")[-1].splitlines():
        match = re.match(r"^(h\d)\s+:(.*)$", line)
        if match:
            out[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return out


def _headers(stdout: str) -> list[str]:
    return [re.sub(r"\s*\*+$", "", line) for line in stdout.splitlines()
            if line.startswith(("TASK [", "RUNNING HANDLER ["))]


def _rounds(lines: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """The log as rounds: each task label with the hosts that ran it, in the order the rounds began."""
    return [(label, sorted(h for h, _ in group)) for label, group in groupby(lines, key=lambda x: x[1])]


def _per_host(lines: list[tuple[str, str]]) -> dict[str, list[str]]:
    return {h: [label for host, label in lines if host == h] for h in HOSTS}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple]:
    tmp = tmp_path_factory.mktemp("strategies")
    return {(tool, strategy): _run(tool, strategy, tmp)
            for strategy in ("linear", "free") for tool in ("ansible-playbook", "hostprep")}


def test_linear_runs_each_task_on_every_host_before_the_next_as_ansible_does(runs: dict) -> None:
    (ours, our_log), (theirs, their_log) = runs["hostprep", "linear"], runs["ansible-playbook", "linear"]
    assert _rounds(our_log) == _rounds(their_log), (our_log, their_log)
    rounds = _rounds(our_log)
    assert rounds[:2] == [("one", list(HOSTS)), ("two", list(HOSTS))]  # the slow h1 holds every host back
    assert ("once", ["h3"]) in rounds and ("saw-h3", list(HOSTS)) in rounds  # first host of reverse order
    assert ("rescued", ["h2"]) in rounds and ("never", []) not in rounds
    assert [label for label, _ in rounds][-1] == "fatal"  # any_errors_fatal: nobody starts `never`
    assert _headers(ours.stdout) == _headers(theirs.stdout)
    assert len(_headers(ours.stdout)) == len(set(_headers(ours.stdout)))  # one header per task


def test_free_lets_each_host_go_its_own_way_as_ansible_does(runs: dict) -> None:
    (_, our_log), (_, their_log) = runs["hostprep", "free"], runs["ansible-playbook", "free"]
    # under free, run_once runs on every host and each run's register is given to the whole batch, so
    # which host's name a later task sees depends on timing in both tools: compare it as "saw some host"
    def seen(log: list[tuple[str, str]]) -> dict[str, list[str]]:
        return {h: ["saw" if label.startswith("saw-h") else label for label in labels]
                for h, labels in _per_host(log).items()}

    assert seen(our_log) == seen(their_log), (our_log, their_log)
    for lines in (our_log, their_log):
        # h1 sleeps in task one; the others are done with it and with task two before h1 starts task two
        assert lines.index(("h2", "two")) < lines.index(("h1", "two"))
        assert lines.index(("h3", "two")) < lines.index(("h1", "one"))


@pytest.mark.parametrize("strategy", ["linear", "free"])
def test_the_recap_and_the_exit_status_match_ansible(runs: dict, strategy: str) -> None:
    (ours, _), (theirs, _) = runs["hostprep", strategy], runs["ansible-playbook", strategy]
    assert _recap(ours.stdout) == _recap(theirs.stdout), ours.stdout[-2500:] + theirs.stdout[-2500:]
    assert _recap(ours.stdout)["h3"]["failed"] == 1 and _recap(ours.stdout)["h2"]["rescued"] == 1
    assert ours.returncode != 0 and theirs.returncode != 0


def test_serial_and_max_fail_percentage_count_failures_not_rescued_as_ansible_does(tmp_path: Path) -> None:
    """Batch [h1, h2]: h1's rescued failure does not count; h2's failure is 50% > 40%: nothing more runs."""
    ours, our_log = _run("hostprep", "linear", tmp_path, SERIAL_PLAYBOOK)
    theirs, their_log = _run("ansible-playbook", "linear", tmp_path, SERIAL_PLAYBOOK)
    assert _rounds(our_log) == _rounds(their_log) == [("try", ["h1", "h2"]), ("rescued", ["h1"]),
                                                      ("step", ["h1", "h2"])], (our_log, their_log)
    assert _recap(ours.stdout) == _recap(theirs.stdout), ours.stdout[-2500:] + theirs.stdout[-2500:]
