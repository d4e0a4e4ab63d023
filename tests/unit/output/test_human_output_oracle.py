"""ansible-playbook as the oracle of what a person sees: the same playbook under both tools, on two
local-connection hosts, and the whole standard output compared line by line (timestamps masked).

Covers what a user reads every run: a TASK header for every task even when two tasks in a row have the
same name; an unnamed task named by its action as written (`ansible.builtin.debug`); `include_role : r1`;
`included: FILE for h1, h2` (with `=> (item=x)` in a loop) and a skipped include; `TASK [meta]` headers;
debug results cleaned as Ansible's callback does (`msg` alone in a loop), skipped items shown without
their result, an assert's result shown in full; the banner width and the PLAY RECAP columns.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hostprep.output.human import banner

BIN = Path(sys.executable).parent

PLAYBOOK = """
- hosts: all
  gather_facts: false
  vars:
    letters: [a, b, c]
  tasks:
    - ansible.builtin.debug:
        msg: first
    - debug: msg=second
    - debug: msg=second
    - set_fact:
        upper: "{{ letters | map('upper') | list }}"
    - debug: var=upper
    - debug: msg="{{ item.0 }}-{{ item.1 }}"
      loop: "{{ letters | product([1, 2]) | list }}"
      loop_control:
        label: "{{ item.0 }}"
        index_var: idx
      when: idx is even
    - include_role:
        name: r1
    - include_tasks: inc.yml
      loop: [1, 2]
      vars: {foo: "{{ item }}"}
    - include_tasks: inc.yml
      when: inventory_hostname == 'h1'
      vars: {foo: z}
    - command: echo hi
      register: said
      changed_when: false
    - assert:
        that: [said.stdout == 'hi']
    - copy:
        content: "x\\n"
        dest: "{{ out }}/{{ inventory_hostname }}.txt"
        mode: "0600"
      notify: handler one
    - meta: flush_handlers
    - meta: noop
    - meta: end_host
      when: inventory_hostname == 'h2'
    - name: only h1 is left
      debug: msg=end
  handlers:
    - name: handler one
      debug: msg=handled
"""


FAILURES = """
- hosts: all
  gather_facts: false
  tasks:
    - command: /bin/false
      ignore_errors: true
    - shell: echo {{ item }}
      loop: [x, y]
      changed_when: item == 'y'
    - debug: msg=skipped
      when: false
    - command: "false"
      loop: [1, 2]
      ignore_errors: yes
      register: looped
    - debug:
        msg: "{{ looped is failed }} {{ looped.msg }} {{ looped.results | map(attribute='rc') | list }}"
    - fail: msg="stop here"
      when: inventory_hostname == 'h2'
    - debug: msg=after
"""


CHECK_DIFF = """
- hosts: h1
  gather_facts: false
  tasks:
    - copy: content="a\\nb\\n" dest={{ out }}/f.txt
    - lineinfile: path={{ out }}/f.txt line=c
    - file: path={{ out }}/d state=directory
    - name: loop copy
      copy: content="{{ item }}\\n" dest={{ out }}/{{ item }}.txt
      loop: [x]
    - command: echo "a\\tb" creates={{ out }}/none\\x41
      register: echoed
      check_mode: false
    - debug: msg="{{ echoed.stdout }} {{ echoed.cmd }}"
"""


STOPS = """
- hosts: all
  gather_facts: false
  tasks:
    - fail: msg=boom
      when: inventory_hostname == 'h1'
- hosts: h1
  gather_facts: false
  tasks:
    - debug: msg="h1 failed in an earlier play"
- hosts: nomatch
  gather_facts: false
  tasks:
    - debug: msg=none
- hosts: all
  gather_facts: false
  tasks:
    - debug: msg=all
- hosts: all
  gather_facts: false
  max_fail_percentage: 0
  tasks:
    - fail: msg=boom2
- hosts: all
  gather_facts: false
  tasks:
    - debug: msg="never, the playbook stopped"
"""


ALL_FAIL = """
- hosts: all
  gather_facts: false
  tasks:
    - fail: msg=boom
    - debug: msg=never
- hosts: all
  gather_facts: false
  tasks:
    - debug: msg="never, every host of the last play failed"
"""


def _run(tool: str, tmp: Path, book: str = PLAYBOOK, rc: int = 0, args: tuple[str, ...] = ()) -> str:
    work = tmp / tool
    if work.exists():
        work = tmp / f"{tool}-{len(list(tmp.iterdir()))}"
    (work / "roles" / "r1" / "tasks").mkdir(parents=True)
    (work / "roles" / "r1" / "tasks" / "main.yml").write_text('- debug: msg="in r1"\n')
    (work / "inc.yml").write_text('- debug: msg="included {{ foo }}"\n')
    (work / "site.yml").write_text(textwrap.dedent(book))
    (work / "out").mkdir()
    (work / "out" / "f.txt").write_text("a\n")
    (work / "inv.ini").write_text("".join(f"{h} ansible_connection=local ansible_python_interpreter={sys.executable}\n"
                                          for h in ("h1", "h2")) + f"[all:vars]\nout={work / 'out'}\n")
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(work / ".tmp"),
           "ANSIBLE_HOME": str(work / ".ansible"), "ANSIBLE_RETRY_FILES_ENABLED": "0", "ANSIBLE_FORKS": "5"}
    tool_args = ["apply", "--progress", "lines"] if tool == "hostprep" else []
    proc = subprocess.run([str(BIN / tool), *tool_args, *args, "-i", "inv.ini", "site.yml"],
                          capture_output=True, text=True, cwd=work, env=env, timeout=300)
    assert proc.returncode == rc, proc.stdout[-3000:] + proc.stderr[-3000:]
    # the paths differ only by the tool's directory name; times differ
    text = re.sub(r'"(delta|end|start)": "[^"]*"', r'"\1": "T"', proc.stdout.replace(str(work), "WORK"))
    # ansible-core 2.19's "[ERROR]: ... Origin: FILE:LINE" excerpt before a failure (2.16 prints none)
    return re.sub(r"^\[ERROR\]: .*?\^ column \d+\n\n", "", text, flags=re.M | re.S)


def _in_host_order(text: str) -> list[str]:
    """The lines, with the results under each header sorted (hosts finish a task in any order, in both tools)."""
    out: list[str] = []
    entries: list[list[str]] = []

    def flush() -> None:
        out.extend(line for entry in sorted(entries) for line in entry)
        entries.clear()

    for line in text.splitlines():
        # ansible-playbook names an include's hosts in the order their results arrived ("for h2, h1")
        line = re.sub(r"^(included: .*? for )(.+?)( => .*)?$",
                      lambda m: m[1] + ", ".join(sorted(m[2].split(", "))) + (m[3] or ""), line)
        if re.match(r"(ok|changed|skipping|fatal|failed|included): ", line):
            entries.append([line])
        elif line == "...ignoring":  # its place among interleaved items is timing: compared as a count
            entries.append(["~" + line])
        elif entries and (line.startswith((" ", "}")) or line == "{"):
            entries[-1].append(line)
        else:
            flush()
            out.append(line)
    flush()
    return out


def test_the_lines_a_person_reads_are_ansibles(tmp_path: Path) -> None:
    ours = _in_host_order(_run("hostprep", tmp_path))
    theirs = _in_host_order(_run("ansible-playbook", tmp_path))
    assert any(line.startswith("included: WORK/inc.yml for h1, h2 => (item=1)") for line in theirs), theirs
    assert ours == theirs, "\n".join(_first_difference(ours, theirs))


def test_failures_ignored_failures_and_loops_read_as_ansibles(tmp_path: Path) -> None:
    ours = _in_host_order(_run("hostprep", tmp_path, FAILURES, rc=1))  # README: 1 when a task failed
    theirs = _in_host_order(_run("ansible-playbook", tmp_path, FAILURES, rc=2))
    assert "~...ignoring" in theirs and any(" (item=1) => " in line for line in theirs), theirs
    assert ours == theirs, "\n".join(_first_difference(ours, theirs))


def test_check_and_diff_and_key_value_escapes_read_as_ansibles(tmp_path: Path) -> None:
    """--check --diff: each changed result's diff before its line, headed `before: PATH`, state as JSON; k=v
    arguments with backslash escapes decoded (content="a\\nb" is two lines), free-form command text not."""
    ours = _in_host_order(_run("hostprep", tmp_path, CHECK_DIFF, args=("--check", "--diff")))
    theirs = _in_host_order(_run("ansible-playbook", tmp_path, CHECK_DIFF, args=("--check", "--diff")))
    assert "+++ after: WORK/out/f.txt" in theirs and '    "state": "absent"' in "\n".join(theirs), theirs
    assert ours == theirs, "\n".join(_first_difference(ours, theirs))


@pytest.mark.parametrize("book", [STOPS, ALL_FAIL], ids=["max-fail-and-no-match", "all-failed"])
def test_plays_that_stop_the_playbook_or_match_nothing_read_as_ansibles(tmp_path: Path, book: str) -> None:
    """A play whose hosts all failed, or whose max_fail_percentage was exceeded, ends the playbook (no later
    PLAY header); a play matching no host says so under its header; a host that failed earlier is left out."""
    ours = _in_host_order(_run("hostprep", tmp_path, book, rc=1))
    theirs = _in_host_order(_run("ansible-playbook", tmp_path, book, rc=2))
    assert not any("never" in line for line in theirs), theirs
    if book is STOPS:
        assert "skipping: no hosts matched" in theirs and theirs.count(banner("NO MORE HOSTS LEFT")) == 2, theirs
    assert ours == theirs, "\n".join(_first_difference(ours, theirs))


def _first_difference(ours: list[str], theirs: list[str]) -> list[str]:
    for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        if a != b:
            return [f"line {i + 1}:", f"  hostprep: {a!r}", f"  ansible : {b!r}",
                    "context (ansible):", *theirs[max(0, i - 5):i + 5]]
    return [f"lengths differ: hostprep {len(ours)} lines, ansible {len(theirs)}",
            *(ours[len(theirs):] or theirs[len(ours):])]


def test_banner_width_is_ansibles() -> None:
    from hostprep.output.human import banner

    assert banner("TASK [x]") == "TASK [x] " + "*" * 71
    assert len(banner("PLAY RECAP")) == 80
    assert re.fullmatch(r"TASK \[y{90}\] \*{3}", banner("TASK [" + "y" * 90 + "]"))
