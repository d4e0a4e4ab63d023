"""git (the module) against Ansible's git, on a local repository the test makes: clone, no change on a
re-run, a tag, a commit id, an update after a new commit, and local changes refused without force."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

BIN = Path(sys.executable).parent
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x"}


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout.strip()


def make_repo(tmp: Path) -> tuple[Path, Path, str]:
    bare, work = tmp / "repo.git", tmp / "src"
    git("init", "--bare", "-b", "main", str(bare), cwd=tmp)
    git("clone", str(bare), str(work), cwd=tmp)
    (work / "a.txt").write_text("1\n")
    git("add", "a.txt", cwd=work)
    git("commit", "-m", "one", cwd=work)
    first = git("rev-parse", "HEAD", cwd=work)
    git("tag", "-a", "v1", "-m", "v1", cwd=work)
    (work / "a.txt").write_text("2\n")
    git("commit", "-am", "two", cwd=work)
    git("push", "--tags", "origin", "main", cwd=work)
    return bare, work, first


BOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - {git: {repo: "@REPO@", dest: "@DEST@/main", version: main}, register: r1}
    - {git: {repo: "@REPO@", dest: "@DEST@/main", version: main}, register: r2}
    - {git: {repo: "@REPO@", dest: "@DEST@/tag", version: v1}, register: r3}
    - {git: {repo: "@REPO@", dest: "@DEST@/sha", version: "@FIRST@"}, register: r4}
    - {git: {repo: "@REPO@", dest: "@DEST@/tag", version: main}, register: r5}
    - copy:
        dest: "@DEST@/@NAME@.json"
        content: "{{ [r1, r2, r3, r4, r5] | map(attribute='changed') | list | to_json }}"
"""
UPDATE = """
- hosts: all
  gather_facts: false
  tasks:
    - {git: {repo: "@REPO@", dest: "@DEST@/main", version: main}, register: u1}
    - {shell: "echo dirty >> @DEST@/main/a.txt"}
    - {git: {repo: "@REPO@", dest: "@DEST@/main", version: main, force: false}, register: u2, ignore_errors: true}
    - copy:
        dest: "@DEST@/@NAME@.json"
        content: "{{ [u1.changed, u1.before != u1.after, u2.failed] | to_json }}"
"""


def play(tool: str, tmp: Path, book: str, name: str, **subs: str) -> list:
    work = tmp / tool
    work.mkdir(exist_ok=True)
    text = textwrap.dedent(book)
    for key, value in {**subs, "DEST": str(work), "NAME": name}.items():
        text = text.replace(f"@{key}@", value)
    (work / f"{name}.yml").write_text(text)
    (work / "inv.ini").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(work / ".a"), "ANSIBLE_LOCAL_TEMP":
           str(work / ".t"), "ANSIBLE_RETRY_FILES_ENABLED": "0", **GIT_ENV}
    cmd = [str(BIN / tool), *(["apply"] if tool == "hostprep" else []), "-i", "inv.ini", f"{name}.yml"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return json.loads((work / f"{name}.json").read_text())


def test_git_checkouts_change_when_ansible_changes(tmp_path: Path) -> None:
    bare, work, first = make_repo(tmp_path)
    first_run = {t: play(t, tmp_path, BOOK, "first", REPO=str(bare), FIRST=first)
                 for t in ("ansible-playbook", "hostprep")}
    assert first_run["hostprep"] == first_run["ansible-playbook"] == [True, False, True, True, True]
    assert git("rev-parse", "HEAD", cwd=tmp_path / "hostprep" / "sha") == first
    assert git("rev-parse", "HEAD", cwd=tmp_path / "hostprep" / "tag") == git("rev-parse", "main", cwd=work)
    (work / "a.txt").write_text("3\n")
    git("commit", "-am", "three", cwd=work)
    git("push", "origin", "main", cwd=work)
    update = {t: play(t, tmp_path, UPDATE, "update", REPO=str(bare)) for t in ("ansible-playbook", "hostprep")}
    assert update["hostprep"] == update["ansible-playbook"] == [True, True, True]
    assert (tmp_path / "hostprep" / "main" / "a.txt").read_text() == "3\ndirty\n"
