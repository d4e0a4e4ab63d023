"""Loading and validation of playbooks: the parsed form, role resolution and errors naming file:line:key.

These call the loader directly on real files in a tmp dir; no host is involved.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hostprep.errors import InputError
from hostprep.playbook.loader import load_playbook, parse_extra_vars, shipped_roles_dir
from hostprep.playbook.model import Block, Task
from hostprep.playbook.tasks import canonical_module, parse_kv, split_args


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def load_error(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load_playbook(path)
    return info.value


def test_split_args_keeps_quotes_and_jinja_together() -> None:
    assert split_args('path=/x mode="0644 x" msg={{ a | default("b c") }}') == [
        "path=/x", "mode=0644 x", 'msg={{ a | default("b c") }}']
    with pytest.raises(ValueError):
        split_args("a='open")


def test_parse_kv_for_plain_and_free_form_modules() -> None:
    assert parse_kv("path=/x state=directory", None, set()) == {"path": "/x", "state": "directory"}
    assert parse_kv("ls -l /tmp chdir=/srv creates='/a b'", "cmd", {"chdir", "creates"}) == {
        "chdir": "/srv", "creates": "/a b", "cmd": "ls -l /tmp"}
    with pytest.raises(InputError, match="key=value"):
        parse_kv("path=/x directory", None, set())


def test_canonical_module_names() -> None:
    assert canonical_module("ansible.builtin.copy") == "copy"
    assert canonical_module("ansible.legacy.shell") == "shell"
    assert canonical_module("file") == "file"


def test_extra_vars_forms_merge_left_to_right(tmp_path: Path) -> None:
    f = write(tmp_path / "ev.yml", "a: from_file\nn: 3\n")
    got = parse_extra_vars(["a=1 b='two words'", f"@{f}", '{"c": [1, 2], "b": "json"}'])
    assert got == {"a": "from_file", "b": "json", "c": [1, 2], "n": 3}
    with pytest.raises(InputError, match="not key=value"):
        parse_extra_vars(["novalue"])


def test_play_sections_free_form_and_blocks_are_parsed(tmp_path: Path) -> None:
    book = write(tmp_path / "site.yml", """\
    - name: web
      hosts: all
      gather_facts: false
      tasks:
        - name: list
          ansible.builtin.command: ls -l chdir=/tmp
        - file: path=/x state=directory
        - block:
            - debug: msg=hi
          rescue:
            - fail: msg=no
          when: true
    """)
    (play,) = load_playbook(book).plays
    assert play.name == "web" and play.kw("gather_facts") is False
    t1, t2, blk = play.tasks
    assert isinstance(t1, Task) and t1.module == "command" and t1.line == 6
    assert t1.args.get("chdir") == "/tmp" and "ls -l" in str(t1.args)
    assert t2.module == "file" and t2.args == {"path": "/x", "state": "directory"}
    assert isinstance(blk, Block) and blk.kw("when") is True
    assert [t.module for t in blk.block + blk.rescue] == ["debug", "fail"]


def test_role_dependencies_run_first_and_once_unless_params_differ(tmp_path: Path) -> None:
    write(tmp_path / "roles/common/tasks/main.yml", "- debug: msg=common\n")
    write(tmp_path / "roles/web/meta/main.yml", "dependencies: [common]\n")
    write(tmp_path / "roles/web/tasks/main.yml", "- debug: msg=web\n")
    write(tmp_path / "roles/db/meta/main.yml", "dependencies: [common, {role: common, port: 1}]\n")
    write(tmp_path / "roles/db/tasks/main.yaml", "- debug: msg=db\n")
    book = write(tmp_path / "site.yml", "- hosts: all\n  roles: [web, db]\n")
    (play,) = load_playbook(book).plays
    assert [(r.name, r.params) for r in play.roles] == [
        ("common", {}), ("web", {}), ("common", {"port": 1}), ("db", {})]


def test_roles_path_order_prefers_playbook_roles(tmp_path: Path) -> None:
    write(tmp_path / "extra/r/tasks/main.yml", "- debug: msg=extra\n")
    book = write(tmp_path / "site.yml", "- hosts: all\n  roles: [r]\n")
    (play,) = load_playbook(book, roles_path=[tmp_path / "extra"]).plays
    assert play.roles[0].path == tmp_path / "extra" / "r"
    write(tmp_path / "roles/r/tasks/main.yml", "- debug: msg=local\n")
    (play,) = load_playbook(book, roles_path=[tmp_path / "extra"]).plays
    assert play.roles[0].path == tmp_path / "roles" / "r"


def test_shipped_roles_dir_is_the_checkout_roles() -> None:
    assert shipped_roles_dir() == Path(__file__).resolve().parents[3] / "roles"
    assert (shipped_roles_dir() / "docker" / "tasks").is_dir()


def test_import_playbook_is_expanded(tmp_path: Path) -> None:
    write(tmp_path / "other.yml", "- hosts: db\n  tasks: [{debug: {msg: x}}]\n")
    book = write(tmp_path / "site.yml", "- import_playbook: other.yml\n- hosts: web\n  tasks: []\n")
    assert [p.hosts for p in load_playbook(book).plays] == ["db", "web"]


@pytest.mark.parametrize("text,line,key", [
    ("- hosts: all\n  tasks:\n    - name: a\n      debug: msg=x\n      whenn: true\n", 5, "whenn"),
    ("- hosts: all\n  tasks:\n    - block:\n        - debug: msg=x\n      resuce: []\n", 5, "resuce"),
    ("- hosts: all\n  tasks:\n    - nosuchmodule: x=1\n", 3, "nosuchmodule"),
    ("- hosts: all\n  tasks:\n    - debug: msg=x\n      loop_control: {loop_vr: y}\n      loop: [1]\n", 4,
     "loop_vr"),
    ("- hosts: all\n  tasks:\n    - meta: reset_connection_everywhere\n", 3, "meta"),
])
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, line: int, key: str) -> None:
    book = write(tmp_path / "site.yml", text)
    err = load_error(book)
    assert err.file == str(book) or Path(str(err.file)).resolve() == book.resolve(), err
    assert err.line == line, err
    assert key in str(err), err


def test_error_inside_role_task_file_names_that_file(tmp_path: Path) -> None:
    tasks = write(tmp_path / "roles/r/tasks/main.yml", "- debug: msg=ok\n- copy:\n    dst: /x\n")
    book = write(tmp_path / "site.yml", "- hosts: all\n  roles: [r]\n")
    err = load_error(book)
    assert Path(str(err.file)).resolve() == tasks.resolve() and err.line == 2 and "dst" in str(err), err


def test_missing_literal_template_and_import_file_are_refused(tmp_path: Path) -> None:
    book = write(tmp_path / "site.yml", "- hosts: all\n  tasks:\n    - template: src=nope.j2 dest=/x\n")
    assert "nope.j2" in str(load_error(book))
    book = write(tmp_path / "site.yml", "- hosts: all\n  tasks:\n    - import_tasks: nothere.yml\n")
    assert "nothere.yml" in str(load_error(book))
    # include_tasks is dynamic: a missing file is an error only when the include runs (tests/unit/playbook/
    # test_lazy_validation.py), as in Ansible
    book = write(tmp_path / "site.yml", "- hosts: all\n  tasks:\n    - include_tasks: nothere.yml\n")
    load_playbook(book)


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    book = write(tmp_path / "site.yml", "- hosts: all\n  tasks:\n    - debug: msg=x\n   bad: [\n")
    err = load_error(book)
    assert err.line is not None and err.line >= 3 and "site.yml" in str(err.file)


def test_literal_sources_found_in_role_then_playbook_dirs(tmp_path: Path) -> None:
    write(tmp_path / "roles/r/templates/a.j2", "x")
    write(tmp_path / "files/b.txt", "y")
    write(tmp_path / "roles/r/tasks/main.yml", "- template: src=a.j2 dest=/x\n- copy: src=b.txt dest=/y\n"
                                                "- copy: src=/nowhere dest=/z remote_src=true\n")
    book = write(tmp_path / "site.yml", "- hosts: all\n  roles: [r]\n  tasks:\n    - copy: src=b.txt dest=/y\n")
    (play,) = load_playbook(book).plays
    assert [t.module for t in play.roles[0].tasks] == ["template", "copy", "copy"]
    write(tmp_path / "site.yml", "- hosts: all\n  roles: [r]\n  tasks:\n    - template: src=a.j2 dest=/y\n")
    err = load_error(book)
    assert err.line == 4 and err.key == "src" and "a.j2" in str(err), err
