"""Registered results as Ansible's, for the modules the first result oracle (test_result_oracle.py) leaves out:
lineinfile, blockinfile, replace, ini_file, command/shell with creates/removes, set_fact, debug, assert, fail,
find, slurp, fetch, get_url (304, force, checksums, a directory dest, 404, check mode), uri, sysctl, mount
(fstab only), authorized_key (a path of its own). One local play under ansible-playbook and hostprep, with and
without --diff, the keys and values compared (timestamps, inode numbers and temporary paths aside).

ini_file comes from community.general and sysctl, mount, authorized_key from ansible.posix: the two collections
as the `ansible` release of the venv's ansible-core ships them (ci/prep.d/45-ansible-collections.sh)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit.modules.test_result_oracle import _differences, _without_volatile_diff, url  # noqa: F401

BIN = Path(sys.executable).parent
COLLECTIONS = Path("/var/cache/hostprep/ansible-collections-12.3.0")
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhrhrhrhrhrhrhrhrhrhrhrhrhrhrhrhrhrhrhrhrhrhrhr hr@x"

TASKS = [
    ("lif", '{lineinfile: {path: "{{ work }}/lf", line: "b=2"}}'),
    ("lif_again", '{lineinfile: {path: "{{ work }}/lf", line: "b=2"}}'),
    ("lif_re", '{lineinfile: {path: "{{ work }}/lf", regexp: "^a=", line: "a=3"}}'),
    ("lif_absent", '{lineinfile: {path: "{{ work }}/lf", regexp: "^b=", state: absent}}'),
    ("lif_absent_none", '{lineinfile: {path: "{{ work }}/nofile", line: x, state: absent}}'),
    ("lif_create", '{lineinfile: {path: "{{ work }}/lf_new", line: x, create: true, mode: "0600"}}'),
    ("lif_check_new", '{lineinfile: {path: "{{ work }}/lf_check", line: x, create: true}, check_mode: true}'),
    ("lif_missing", '{lineinfile: {path: "{{ work }}/lf_missing", line: x}, ignore_errors: true}'),
    ("bif", '{blockinfile: {path: "{{ work }}/lf", block: "k=v\\nk2=v2"}}'),
    ("bif_again", '{blockinfile: {path: "{{ work }}/lf", block: "k=v\\nk2=v2"}}'),
    ("bif_absent", '{blockinfile: {path: "{{ work }}/lf", state: absent}}'),
    ("bif_create", '{blockinfile: {path: "{{ work }}/bnew", block: z, create: true}}'),
    ("bif_missing", '{blockinfile: {path: "{{ work }}/bmissing", block: z}, ignore_errors: true}'),
    ("rep", '{replace: {path: "{{ work }}/lf", regexp: "a=3", replace: "a=4"}}'),
    ("rep_again", '{replace: {path: "{{ work }}/lf", regexp: "a=3", replace: "a=4"}}'),
    ("creates", '{command: {cmd: "echo x", creates: "{{ work }}/lf"}}'),
    ("creates_run", '{command: {cmd: "echo x", creates: "{{ work }}/nope"}}'),
    ("removes", '{command: {cmd: "echo x", removes: "{{ work }}/nope"}}'),
    ("removes_run", '{command: {cmd: "echo x", removes: "{{ work }}/lf"}}'),
    ("shell_creates", '{shell: {cmd: "echo x", creates: "{{ work }}/lf"}}'),
    ("set_fact", '{set_fact: {sf: 1, sf2: [a]}}'),
    ("set_fact_cache", '{set_fact: {sfc: 2, cacheable: true}}'),
    ("debug", '{debug: {msg: "hi {{ sf }}"}}'),
    ("debug_var", '{debug: {var: sf2}}'),
    ("assert", '{assert: {that: [sf == 1]}}'),
    ("assert_msg", '{assert: {that: [sf == 1], success_msg: "yes"}}'),
    ("assert_fail", '{assert: {that: [sf == 1, sf == 2], fail_msg: "no"}, ignore_errors: true}'),
    ("fail", '{fail: {msg: boom}, ignore_errors: true}'),
    ("fail_default", '{fail: {}, ignore_errors: true}'),
    ("find", '{find: {paths: "{{ work }}", patterns: "lf*"}}'),
    ("slurp", '{slurp: {src: "{{ work }}/lf"}}'),
    ("fetch", '{fetch: {src: "{{ work }}/lf", dest: "{{ work }}/fetched/", flat: true}}'),
    ("fetch_again", '{fetch: {src: "{{ work }}/lf", dest: "{{ work }}/fetched/", flat: true}}'),
    ("gu", '{get_url: {url: "{{ url }}", dest: "{{ work }}/g"}}'),
    ("gu_ims", '{get_url: {url: "{{ url }}", dest: "{{ work }}/g"}}'),
    ("gu_ims_mode", '{get_url: {url: "{{ url }}", dest: "{{ work }}/g", mode: "0600"}}'),
    ("gu_force", '{get_url: {url: "{{ url }}", dest: "{{ work }}/g", force: true}}'),
    ("gu_force_mode", '{get_url: {url: "{{ url }}", dest: "{{ work }}/g", force: true, mode: "0640"}}'),
    ("gu_sum", '{get_url: {url: "{{ url }}", dest: "{{ work }}/g", checksum: "sha256:{{ sum }}"}}'),
    ("gu_sum_new", '{get_url: {url: "{{ url }}", dest: "{{ work }}/g2", checksum: "sha256:{{ sum }}"}}'),
    ("gu_sum_bad", '{get_url: {url: "{{ url }}", dest: "{{ work }}/g3", checksum: "sha256:{{ bad_sum }}"},'
                   ' ignore_errors: true}'),
    ("gu_dir", '{get_url: {url: "{{ url }}", dest: "{{ work }}/"}}'),
    ("gu_404", '{get_url: {url: "{{ url }}.missing", dest: "{{ work }}/g4"}, ignore_errors: true}'),
    ("gu_check", '{get_url: {url: "{{ url }}", dest: "{{ work }}/g5"}, check_mode: true}'),
    ("gu_check_ims", '{get_url: {url: "{{ url }}", dest: "{{ work }}/g"}, check_mode: true}'),
    ("uri", '{uri: {url: "{{ url }}"}}'),
    ("uri_content", '{uri: {url: "{{ url }}", return_content: true}}'),
    ("uri_404", '{uri: {url: "{{ url }}.missing"}, ignore_errors: true}'),
    ("uri_404_ok", '{uri: {url: "{{ url }}.missing", status_code: [200, 404]}}'),
    ("ini", '{ini_file: {path: "{{ work }}/a.ini", section: main, option: k, value: v}}'),
    ("ini_again", '{ini_file: {path: "{{ work }}/a.ini", section: main, option: k, value: v}}'),
    ("ini_mod", '{ini_file: {path: "{{ work }}/a.ini", section: main, option: k, value: w, mode: "0600"}}'),
    ("ini_absent", '{ini_file: {path: "{{ work }}/a.ini", section: main, option: k, state: absent}}'),
    ("sysctl", '{sysctl: {name: vm.swappiness, value: "10", sysctl_file: "{{ work }}/s.conf", reload: false}}'),
    ("sysctl_again", '{sysctl: {name: vm.swappiness, value: "10", sysctl_file: "{{ work }}/s.conf", reload: false}}'),
    ("mount", '{mount: {path: /mnt/hrx, src: /dev/hrx, fstype: xfs, state: present, fstab: "{{ work }}/fstab"}}'),
    ("mount_again", '{mount: {path: /mnt/hrx, src: /dev/hrx, fstype: xfs, state: present, fstab: "{{ work }}/fstab"}}'),
    ("mount_absent", '{mount: {path: /mnt/hrx, state: absent_from_fstab, fstab: "{{ work }}/fstab"}}'),
    ("ak", '{authorized_key: {user: root, key: "{{ key }}", path: "{{ work }}/ak", manage_dir: false}}'),
    ("ak_again", '{authorized_key: {user: root, key: "{{ key }}", path: "{{ work }}/ak", manage_dir: false}}'),
]


def _playbook() -> str:
    lines = ["- hosts: all", "  gather_facts: false", "  tasks:",
             '    - {copy: {content: "a=1\\n# end\\n", dest: "{{ work }}/lf"}}']
    for name, task in TASKS:
        lines.append(f"    - {task[:-1]}, register: r_{name}}}")
    lines.append('    - copy: {dest: "{{ out }}", content: "{{ {'
                 + ", ".join(f"'{n}': r_{n}" for n, _ in TASKS) + '} | to_json }}"}')
    return "\n".join(lines) + "\n"


PLAYBOOK = _playbook()
NOT_COMPARED = {"deprecations", "warnings", "date"}  # Ansible's notices about its modules; uri's Date header
FIND_VOLATILE = {"atime", "mtime", "ctime", "inode", "dev"}


def _run(tool: str, tmp: Path, url: str, *flags: str) -> dict[str, Any]:  # noqa: F811 - url is the fixture's value
    base = tmp / ("ours" if tool == "hostprep" else "ansi")  # same length: sizes of files naming paths agree
    work = base / "w"
    work.mkdir(parents=True)
    (base / "site.yml").write_text(PLAYBOOK)
    out = base / "out.json"
    (base / "vars.json").write_text(json.dumps({"out": str(out), "work": str(work), "url": url, "key": KEY,
                                                "sum": hashlib.sha256(b"downloaded\n").hexdigest(),
                                                "bad_sum": hashlib.sha256(b"x").hexdigest()}))
    (base / "inv.ini").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(base / ".tmp"),
           "ANSIBLE_HOME": str(base / ".ansible"), "ANSIBLE_RETRY_FILES_ENABLED": "0",
           "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS)}
    args = (["apply"] if tool == "hostprep" else []) + list(flags)
    proc = subprocess.run([str(BIN / tool), *args, "-i", str(base / "inv.ini"), "-e", f"@{base / 'vars.json'}",
                           str(base / "site.yml")], capture_output=True, text=True, cwd=base, env=env, timeout=300)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text().replace(str(base), "BASE"))


def _normalised(results: dict[str, Any]) -> None:
    """What differs by nature: find's per-file times and inodes, get_url's temporary file in its message."""
    for value in results.values():
        for key in NOT_COMPARED:
            value.pop(key, None)
        for f in value.get("files", []):
            for key in FIND_VOLATILE:
                f.pop(key, None)
        if isinstance(value.get("msg"), str):
            value["msg"] = re.sub(r"^The checksum for \S+ did not match", "The checksum for TMP did not match",
                                  value["msg"])


@pytest.mark.parametrize("flags", [(), ("--diff",)])
def test_more_registered_results_as_ansible(tmp_path: Path, url: str, flags: tuple[str, ...]) -> None:  # noqa: F811
    if not (COLLECTIONS / "ansible_collections/community/general").is_dir():
        raise RuntimeError(f"{COLLECTIONS} is missing: run ci/prep.d/45-ansible-collections.sh")
    ours = _run("hostprep", tmp_path, url, *flags)
    theirs = _run("ansible-playbook", tmp_path, url, *flags)
    for results in (ours, theirs):
        _without_volatile_diff(results)
        _normalised(results)
    diffs = _differences(ours, theirs)
    assert not diffs, "\n".join(diffs)
    # the values the comparison rests on are there at all
    assert ours["gu_ims"]["status_code"] == 304 and not ours["gu_ims"]["changed"] and not ours["gu_force"]["changed"]
    assert ours["gu_404"]["response"].startswith("HTTP Error 404") and ours["uri_404_ok"]["msg"].startswith("HTTP")
    assert ours["lif"]["backup"] == "" and isinstance(ours["lif"]["diff"], list) and ours["lif_absent"]["found"] == 1
    assert ours["bif_create"]["msg"] == "File created" and ours["ini"]["msg"] == "section and option added"
    assert ours["ak"]["state"] == "file" and ours["creates"]["msg"].endswith("exists")
    if flags:
        assert ours["lif_re"]["diff"][0]["after"].startswith("a=3\n")
    assert not _undocumented(ours), _undocumented(ours)


# task name prefix -> module, for the documentation check
PREFIXES = {"lif": "lineinfile", "bif": "blockinfile", "rep": "replace", "creates": "command", "removes": "command",
            "shell": "shell", "set_fact": "set_fact", "debug": "debug", "assert": "assert", "fail": "fail",
            "find": "find", "slurp": "slurp", "fetch": "fetch", "gu": "get_url", "uri": "uri", "ini": "ini_file",
            "sysctl": "sysctl", "mount": "mount", "ak": "authorized_key"}
# keys every result may carry besides the module's and the common ones (the executor's, as Ansible's)
EXECUTOR_KEYS = {"invocation", "exception", "stdout", "stderr", "stdout_lines", "stderr_lines", "rc"}


def _undocumented(results: dict[str, Any]) -> list[str]:
    """Keys of registered results that `hostprep doc MODULE` does not list (uri's headers, debug's var aside)."""
    from hostprep.modules.returns import returns

    out = []
    for task, value in results.items():
        module = next(m for pre, m in sorted(PREFIXES.items(), key=lambda kv: -len(kv[0]))
                      if task == pre or task.startswith(pre + "_"))
        documented = {r[0] for r in returns(module)}
        for key in value:
            if key in documented or (module in ("uri", "debug") and ("<header>" in documented or key == "sf2")):
                continue
            if key in EXECUTOR_KEYS and module in ("command", "shell", "replace"):
                continue
            out.append(f"{task}: {module} result key {key!r} is not in `hostprep doc {module}`")
    return out
