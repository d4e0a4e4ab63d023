"""Real playbook runs through the real executor against `ansible_connection: local` hosts.

Every host writes only under the test's tmp dir; this exercises loading, validation, the task
language and the output exactly as `hostprep apply` does, without SSH.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "hostprep"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def apply(tmp: Path, playbook: str, *extra: str, hosts: str = "h1 h2") -> subprocess.CompletedProcess:
    inv = tmp / "inv.ini"
    if not inv.exists():
        inv.write_text("[local]\n" + "".join(f"{h} ansible_connection=local\n" for h in hosts.split()))
    book = write(tmp / "site.yml", playbook)
    return subprocess.run([str(BIN), "apply", "-i", str(inv), str(book), *extra], capture_output=True, text=True,
                          cwd=tmp, timeout=120)


def summary(proc: subprocess.CompletedProcess) -> dict:
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return next(e for e in lines if e["event"] == "summary")["hosts"]


def results(proc: subprocess.CompletedProcess) -> list[dict]:
    return [e for e in (json.loads(x) for x in proc.stdout.splitlines() if x.strip()) if e["event"] == "task_result"]


def test_converges_then_idempotent_with_exit_codes(tmp_path: Path) -> None:
    book = f"""
    - hosts: local
      gather_facts: false
      tasks:
        - file: path={tmp_path}/out/{{{{ inventory_hostname }}}} state=directory mode=0750
        - copy:
            dest: "{tmp_path}/out/{{{{ inventory_hostname }}}}/a.txt"
            content: "a {{{{ inventory_hostname }}}}\\n"
    """
    first = apply(tmp_path, book, "--detailed-exitcode")
    assert first.returncode == 2, first.stdout + first.stderr
    assert (tmp_path / "out/h1/a.txt").read_text() == "a h1\n"
    assert oct((tmp_path / "out/h2").stat().st_mode & 0o777) == "0o750"
    second = apply(tmp_path, book, "--detailed-exitcode", "--json")
    assert second.returncode == 0, second.stdout
    assert all(s["changed"] == 0 and s["ok"] == 2 for s in summary(second).values())


def test_check_mode_changes_nothing_and_reports(tmp_path: Path) -> None:
    book = f"""
    - hosts: local
      gather_facts: false
      tasks:
        - copy: dest={tmp_path}/c.txt content=new
    """
    (tmp_path / "c.txt").write_text("old")
    proc = apply(tmp_path, book, "--check", "--diff", "--json", hosts="h1")
    assert proc.returncode == 0
    assert (tmp_path / "c.txt").read_text() == "old"
    res = results(proc)
    assert res[0]["status"] == "changed"
    diff = res[0]["result"]["diff"][0]  # copy gives a list of one content diff, as Ansible's
    assert diff["before"] == "old" and diff["after"] == "new"


def test_loops_register_when_and_facts_flow(tmp_path: Path) -> None:
    book = """
    - hosts: local
      gather_facts: false
      vars:
        items_in: [1, 2, 3]
      tasks:
        - command: echo {{ item * 10 }}
          loop: "{{ items_in }}"
          register: r
          changed_when: false
        - set_fact:
            total: "{{ r.results | map(attribute='stdout') | map('int') | sum }}"
        - debug: msg="skip me"
          when: total | int != 60
          register: skipped
        - assert:
            that:
              - total | int == 60
              - skipped is skipped
              - r.results | length == 3
              - r.results[0].item == 1
        - debug: var=total
          with_items: [a]
          loop_control:
            loop_var: other
    """
    proc = apply(tmp_path, book, "--json", hosts="h1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    s = summary(proc)["h1"]
    assert s["failed"] == 0 and s["skipped"] == 1


def test_handlers_run_once_at_end_and_on_flush(tmp_path: Path) -> None:
    log = tmp_path / "handler.log"
    book = f"""
    - hosts: local
      gather_facts: false
      tasks:
        - command: "true"
          notify: record
        - command: "true"
          notify: [record, topic]
        - meta: flush_handlers
        - shell: "cat {log} | wc -l > {tmp_path}/count_at_flush"
      handlers:
        - name: record
          shell: echo record >> {log}
        - name: by topic
          shell: echo topic >> {log}
          listen: topic
    """
    proc = apply(tmp_path, book, hosts="h1")
    assert proc.returncode == 0, proc.stdout
    assert log.read_text() == "record\ntopic\n"
    assert (tmp_path / "count_at_flush").read_text().strip() == "2"


def test_block_rescue_always_and_failure_exit_code(tmp_path: Path) -> None:
    book = f"""
    - hosts: local
      gather_facts: false
      tasks:
        - block:
            - command: /bin/false
            - command: touch {tmp_path}/not-reached
          rescue:
            - copy: dest={tmp_path}/rescued content="{{{{ ansible_failed_result.rc }}}}"
          always:
            - command: touch {tmp_path}/always
        - command: "{{{{ 'true' if inventory_hostname == 'h1' else 'false' }}}}"
        - command: touch {tmp_path}/after-{{{{ inventory_hostname }}}}
    """
    proc = apply(tmp_path, book, "--json")
    assert proc.returncode == 1
    assert (tmp_path / "rescued").read_text() == "1"
    assert (tmp_path / "always").exists()
    assert not (tmp_path / "not-reached").exists()
    assert (tmp_path / "after-h1").exists() and not (tmp_path / "after-h2").exists()
    s = summary(proc)
    assert s["h1"]["rescued"] == 1 and s["h1"]["failed"] == 0
    assert s["h2"]["failed"] == 1


def test_ignore_errors_and_failed_when(tmp_path: Path) -> None:
    book = """
    - hosts: local
      gather_facts: false
      tasks:
        - command: /bin/false
          ignore_errors: true
        - shell: echo oops; exit 0
          register: out
          failed_when: "'oops' in out.stdout"
          ignore_errors: yes
        - command: /bin/false
          failed_when: false
    """
    proc = apply(tmp_path, book, "--json", hosts="h1")
    assert proc.returncode == 0
    assert summary(proc)["h1"]["ignored"] == 2


def test_tags_always_never_and_skip(tmp_path: Path) -> None:
    book = f"""
    - hosts: local
      gather_facts: false
      tasks:
        - command: touch {tmp_path}/a
          tags: [a]
        - command: touch {tmp_path}/b
          tags: [b]
        - command: touch {tmp_path}/always
          tags: [always]
        - command: touch {tmp_path}/never
          tags: [never]
    """
    proc = apply(tmp_path, book, "--tags", "b", hosts="h1")
    assert proc.returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == "") == ["always", "b"]
    proc = apply(tmp_path, book, "--skip-tags", "b,always", hosts="h1")
    assert (tmp_path / "a").exists() and not (tmp_path / "never").exists()


def test_serial_batches_and_max_fail_percentage(tmp_path: Path) -> None:
    (tmp_path / "inv.ini").write_text("[local]\n" + "".join(f"h{i} ansible_connection=local\n" for i in range(1, 5)))
    book = f"""
    - hosts: local
      gather_facts: false
      serial: 2
      max_fail_percentage: 0
      tasks:
        - command: "{{{{ 'false' if inventory_hostname == 'h1' else 'true' }}}}"
        - command: touch {tmp_path}/done-{{{{ inventory_hostname }}}}
    """
    proc = apply(tmp_path, book, "--json")
    assert proc.returncode == 1
    done = sorted(p.name for p in tmp_path.glob("done-*"))
    assert "done-h1" not in done
    assert "done-h3" not in done and "done-h4" not in done  # the first batch failed over 0%: no second batch


def test_variable_precedence(tmp_path: Path) -> None:
    role = tmp_path / "roles" / "r"
    write(role / "defaults" / "main.yml", "v_def: default\nv_all: role_default\n")
    write(role / "vars" / "main.yml", "v_rolevar: role_vars\n")
    write(role / "tasks" / "main.yml", """
    - copy:
        dest: "{{ out }}"
        content: "{{ v_def }} {{ v_all }} {{ v_rolevar }} {{ v_param }} {{ v_extra }}\\n"
    """)
    write(tmp_path / "group_vars" / "all.yml", "v_all: playbook_group_vars\nv_extra: group\n")
    book = f"""
    - hosts: local
      gather_facts: false
      vars:
        v_rolevar: play_vars
        out: {tmp_path}/prec.txt
      roles:
        - role: r
          v_param: role_param
    """
    proc = apply(tmp_path, book, "-e", "v_extra=extra", hosts="h1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "prec.txt").read_text() == "default playbook_group_vars role_vars role_param extra\n"


@pytest.mark.parametrize("book,where,message", [
    ("- hosts: all\n  taskz: []\n", "site.yml:2", "taskz: unknown play keyword"),
    ("- hosts: all\n  tasks:\n    - name: x\n      cmmand: ls\n", "site.yml:4", "cmmand"),
    ("- hosts: all\n  tasks:\n    - copy:\n        dest: /x\n        contnt: y\n", "site.yml:3", "contnt"),
    ("- hosts: all\n  tasks:\n    - file: path=/x state=sideways\n", "site.yml:3", "sideways"),
    ("- hosts: all\n  roles: [missing_role]\n", "site.yml", "role 'missing_role' not found"),
    ("- hosts: all\n  tasks:\n    - command: ls\n      loop: [1]\n      with_items: [2]\n", "site.yml", "one loop"),
    ("- hosts: all\n  tasks: [\n", "site.yml", "malformed YAML"),
    ("- hosts: all\n  tasks:\n    - command: ls\n      async: 10\n", "site.yml", "async"),
])
def test_bad_input_is_refused_before_any_host(tmp_path: Path, book: str, where: str, message: str) -> None:
    marker = tmp_path / "touched"
    (tmp_path / "inv.ini").write_text(f"[local]\nh1 ansible_connection=local ansible_python=x marker={marker}\n")
    proc = apply(tmp_path, book, hosts="h1")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert where in proc.stderr and message in proc.stderr, proc.stderr
    assert "PLAY [" not in proc.stdout


def test_circular_role_dependency(tmp_path: Path) -> None:
    write(tmp_path / "roles/a/meta/main.yml", "dependencies: [b]\n")
    write(tmp_path / "roles/a/tasks/main.yml", "- debug: msg=a\n")
    write(tmp_path / "roles/b/meta/main.yml", "dependencies: [a]\n")
    write(tmp_path / "roles/b/tasks/main.yml", "- debug: msg=b\n")
    proc = apply(tmp_path, "- hosts: all\n  roles: [a]\n", hosts="h1")
    assert proc.returncode == 3
    assert "circular role dependency: a -> b -> a" in proc.stderr


def test_no_log_and_secrets_are_never_printed(tmp_path: Path) -> None:
    book = """
    - hosts: local
      gather_facts: false
      vars:
        db_password: hunter2-secret
      tasks:
        - command: echo {{ db_password }}
          no_log: true
        - debug:
            msg: "{{ {'api_token': 'tok-123456', 'user': 'x'} }}"
    """
    for extra in ([], ["--json"], ["-vvv"]):
        proc = apply(tmp_path, book, *extra, hosts="h1")
        assert proc.returncode == 0
        assert "hunter2-secret" not in proc.stdout + proc.stderr
        assert "tok-123456" not in proc.stdout + proc.stderr


def test_include_tasks_import_tasks_and_include_role(tmp_path: Path) -> None:
    write(tmp_path / "inc.yml", f"- command: touch {tmp_path}/inc-{{{{ n }}}}\n")
    write(tmp_path / "imp.yml", f"- command: touch {tmp_path}/imp\n")
    write(tmp_path / "roles/r2/tasks/main.yml", f"- command: touch {tmp_path}/role-{{{{ who }}}}\n")
    book = """
    - hosts: local
      gather_facts: false
      tasks:
        - import_tasks: imp.yml
        - include_tasks: inc.yml
          vars:
            n: "{{ item }}"
          loop: [1, 2]
        - include_role:
            name: r2
          vars:
            who: me
    """
    proc = apply(tmp_path, book, hosts="h1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("imp", "inc-1", "inc-2", "role-me"):
        assert (tmp_path / name).exists(), name


def test_run_once_and_delegate_to_localhost(tmp_path: Path) -> None:
    book = f"""
    - hosts: local
      gather_facts: false
      tasks:
        - shell: echo x >> {tmp_path}/once
          run_once: true
        - command: touch {tmp_path}/local-{{{{ inventory_hostname }}}}
          delegate_to: localhost
    """
    proc = apply(tmp_path, book)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "once").read_text() == "x\n"
    assert (tmp_path / "local-h1").exists() and (tmp_path / "local-h2").exists()


def test_unreachable_host_exit_code_4(tmp_path: Path) -> None:
    (tmp_path / "inv.ini").write_text(
        "[all]\nok1 ansible_connection=local\n"
        "gone ansible_host=127.0.0.1 ansible_port=1 ansible_user=root ansible_ssh_timeout=2\n")
    book = f"""
    - hosts: all
      gather_facts: false
      tasks:
        - command: touch {tmp_path}/ran-{{{{ inventory_hostname }}}}
    """
    proc = apply(tmp_path, book, "--json", "--retry-file", str(tmp_path / "site.retry"))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    s = summary(proc)
    assert s["gone"]["unreachable"] == 1 and s["ok1"]["ok"] == 1
    assert (tmp_path / "ran-ok1").exists()
    assert (tmp_path / "site.retry").read_text() == "gone\n"
    limited = apply(tmp_path, book, "--json", "--limit", f"@{tmp_path / 'site.retry'}")
    assert list(summary(limited)) == ["gone"]
