"""Registered results as Ansible's: one local play of registered command, shell, stat, file, copy and template
tasks under ansible-playbook and hostprep, the documented keys compared (names, types and values, timestamps
and temporary paths aside)."""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BIN = Path(sys.executable).parent

PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - {file: {path: "{{ work }}", state: directory}}
    - {command: "echo one two", register: r_command}
    - {command: {argv: [printf, 'a\\nb\\n']}, register: r_argv}
    - {command: "false", register: r_command_fail, ignore_errors: true}
    - {command: {cmd: "echo x", creates: "{{ work }}"}, register: r_creates}
    - {shell: "echo out; echo err >&2", register: r_shell}
    - {raw: "echo raw; echo rawerr >&2", register: r_raw}
    - {script: "{{ src_dir }}/s.sh one", register: r_script}
    - {file: {path: "{{ work }}/d", state: directory, mode: "0750"}, register: r_dir}
    - {file: {path: "{{ work }}/d", state: directory, mode: "0750"}, register: r_dir_again}
    - {file: {path: "{{ work }}/t", state: touch, mode: "0640"}, register: r_touch}
    - {file: {path: "{{ work }}/t", mode: "0600"}, register: r_file_mode}
    - {file: {src: "{{ work }}/t", dest: "{{ work }}/l", state: link}, register: r_link}
    - {file: {path: "{{ work }}/l", state: absent}, register: r_absent}
    - {file: {path: "{{ work }}/l", state: absent}, register: r_absent_again}
    - {copy: {content: "hello\\n", dest: "{{ work }}/c", mode: "0644"}, register: r_copy}
    - {copy: {content: "hello\\n", dest: "{{ work }}/c", mode: "0644"}, register: r_copy_again}
    - {template: {src: "{{ src_dir }}/t.j2", dest: "{{ work }}/tpl", mode: "0600"}, register: r_template}
    - {template: {src: "{{ src_dir }}/t.j2", dest: "{{ work }}/tpl", mode: "0600"}, register: r_template_again}
    - {get_url: {url: "{{ url }}", dest: "{{ work }}/g", mode: "0640"}, register: r_get_url, when: url != ''}
    - get_url:
        {url: "{{ url }}", dest: "{{ work }}/g", mode: "0640", checksum: "sha1:{{ 'downloaded\\n' | hash('sha1') }}"}
      register: r_get_url_again
      when: url != ''
    - {hostname: {name: "{{ lookup('pipe', 'hostname') }}"}, check_mode: true, register: r_hostname,
       when: url != ''}
    - {stat: {path: "{{ work }}/c"}, register: r_stat}
    - {stat: {path: "{{ work }}/d"}, register: r_stat_dir}
    - {stat: {path: "{{ work }}/nope"}, register: r_stat_missing}
    - copy:
        dest: "{{ out }}"
        content: "{{ {'command': r_command, 'argv': r_argv, 'command_fail': r_command_fail, 'creates': r_creates,
                      'shell': r_shell, 'raw': r_raw, 'script': r_script, 'dir': r_dir, 'dir_again': r_dir_again,
                      'touch': r_touch,
                      'file_mode': r_file_mode, 'link': r_link, 'absent': r_absent,
                      'absent_again': r_absent_again, 'copy': r_copy, 'copy_again': r_copy_again,
                      'template': r_template, 'template_again': r_template_again, 'stat': r_stat,
                      'stat_dir': r_stat_dir, 'stat_missing': r_stat_missing, 'get_url': r_get_url,
                      'get_url_again': r_get_url_again, 'hostname': r_hostname,
                      'hostname_facts': [ansible_hostname | default('none'),
                                         ansible_facts.hostname | default('none'), hostname | default('undefined')]}
                      | to_json }}"
"""


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A file served over HTTP on loopback, for get_url."""
    root = tmp_path_factory.mktemp("www")
    (root / "f.txt").write_text("downloaded\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/f.txt"
    server.shutdown()
    server.server_close()


def _run(tool: str, tmp: Path, url: str, *flags: str) -> dict[str, Any]:
    base = tmp / ("ours" if tool == "hostprep" else "ansi")  # same length: a link's size is its target's
    work = base / "w"
    work.mkdir(parents=True)
    (base / "t.j2").write_text("port={{ 80 + 1 }}\n")
    (base / "s.sh").write_text("#!/bin/sh\necho \"arg $1\"\necho e >&2\n")
    (base / "site.yml").write_text(PLAYBOOK)
    out = base / "out.json"
    (base / "inv.ini").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable} "
                                  f"out={out} work={work} url={url} src_dir={base}\n")
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(base / ".tmp"),
           "ANSIBLE_HOME": str(base / ".ansible"), "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    args = (["apply"] if tool == "hostprep" else []) + list(flags)
    proc = subprocess.run([str(BIN / tool), *args, "-i", str(base / "inv.ini"), str(base / "site.yml")],
                          capture_output=True, text=True, cwd=base, env=env, timeout=300)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text().replace(str(base), "BASE"))


# values that differ by nature: times, inode numbers, Ansible's temporary source file, its traceback placeholder
VOLATILE = {"start", "end", "delta", "src", "elapsed"}
VOLATILE_STAT = {"atime", "mtime", "ctime", "inode", "dev", "version"}
NOT_COMPARED = {"exception", "invocation"}


def _differences(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    out = []
    for task, want in theirs.items():
        got = ours[task]
        if not isinstance(want, dict):
            out += [] if got == want else [f"{task}: {got!r} != {want!r}"]
            continue
        for key in sorted((set(got) | set(want)) - NOT_COMPARED):
            if key == "src" and "/.ansible/tmp/" in str(want.get(key)):
                continue  # Ansible's temporary copy of the source
            if key not in got or key not in want:
                out.append(f"{task}.{key}: {'missing' if key not in got else 'extra'} {want.get(key, got.get(key))!r}")
            elif key == "stat":
                out += _stat_differences(task, got[key], want[key])
            elif type(got[key]) is not type(want[key]) and not (key == "src" and want[key] and got[key] is None):
                out.append(f"{task}.{key}: type {type(got[key]).__name__} != {type(want[key]).__name__}")
            elif key not in VOLATILE and got[key] != want[key]:
                out.append(f"{task}.{key}: {got[key]!r} != {want[key]!r}")
    return out


def _stat_differences(task: str, got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    return [f"{task}.stat.{k}: {got.get(k, '<missing>')!r} != {want.get(k, '<missing>')!r}"
            for k in sorted(set(got) | set(want))
            if k not in got or k not in want or type(got[k]) is not type(want[k])
            or (k not in VOLATILE_STAT and got[k] != want[k])]


def _without_volatile_diff(results: dict[str, Any]) -> None:
    """Drop what differs by nature from --diff: touch's times, template's source header (Ansible's temp file)."""
    for task, value in results.items():
        diff = value.get("diff") if isinstance(value, dict) else None
        for side in ("before", "after"):
            if isinstance(diff, dict) and isinstance(diff.get(side), dict):
                diff[side].pop("mtime", None)
                diff[side].pop("atime", None)
        for part in diff if isinstance(diff, list) else ():
            if isinstance(part, dict) and task == "template":  # Ansible names its temporary copy of the source
                part.pop("after_header", None)


@pytest.mark.parametrize("flags", [(), ("--diff",)])
def test_registered_results_as_ansible(tmp_path: Path, url: str, flags: tuple[str, ...]) -> None:
    ours = _run("hostprep", tmp_path, url, *flags)
    theirs = _run("ansible-playbook", tmp_path, url, *flags)
    _without_volatile_diff(theirs)
    _without_volatile_diff(ours)
    diffs = _differences(ours, theirs)
    assert not diffs, "\n".join(diffs)
    assert ours["command"]["cmd"] == ["echo", "one", "two"] and ours["shell"]["cmd"] == "echo out; echo err >&2"
    assert ours["command_fail"]["msg"] == "non-zero return code" and ours["command"]["msg"] == ""
    assert ours["touch"]["state"] == "file" and ours["touch"]["dest"].endswith("/w/t")
    assert ours["get_url"]["status_code"] == 200 and ours["get_url"]["msg"] == "OK (11 bytes)"
    assert ours["get_url_again"]["msg"] == "file already exists" and ours["get_url_again"]["mode"] == "0640"
    assert ours["hostname_facts"][2] == "undefined"  # ansible_hostname is the fact hostname, not a variable
    assert ours["hostname"]["ansible_facts"]["ansible_hostname"] == ours["hostname_facts"][0]
    assert ours["copy"]["mode"] == "0644" and ours["copy"]["owner"] and isinstance(ours["copy"]["uid"], int)
