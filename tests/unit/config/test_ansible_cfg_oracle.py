"""ansible.cfg and ANSIBLE_* variables as Ansible reads them, checked against ansible-playbook.

Each run gets its own HOME and working directory so no other configuration is found; both tools get
the same ANSIBLE_CONFIG (or none) and the same playbook on a local host.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hostprep.config.ansible_cfg import AnsibleConfig, fill_connection, find_config
from hostprep.errors import InputError
from hostprep.transport.options import ConnectionOptions
from tests.unit.ansible_listing import hosts_sorted

BIN = Path(sys.executable).parent


def run(tool: str, work: Path, *args: str, cfg: Path | None = None, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    full.update(HOME=str(work / "home"), ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(work / ".atmp"),
                ANSIBLE_HOME=str(work / ".ansible"), **(env or {}))
    if cfg is not None:
        full["ANSIBLE_CONFIG"] = str(cfg)
    (work / "home").mkdir(exist_ok=True)
    cmd = [str(BIN / tool), *(["apply"] if tool == "hostprep" else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=work, env=full, timeout=300)


def project(tmp: Path, tool: str, cfg_text: str, book: str) -> Path:
    work = tmp / tool
    work.mkdir()
    local = f"ansible_connection=local ansible_python_interpreter={sys.executable}"
    (work / "hosts.ini").write_text(f"[local]\nh1 {local}\nh2 {local}\n")
    (work / "ansible.cfg").write_text(textwrap.dedent(cfg_text))
    (work / "site.yml").write_text(textwrap.dedent(book).replace("@OUT@", str(work)))
    return work


def test_inventory_from_config_relative_to_the_file(tmp_path: Path) -> None:
    listed = {}
    for tool in ("ansible-playbook", "hostprep"):
        work = project(tmp_path, tool, "[defaults]\ninventory = hosts.ini\n", "- hosts: all\n  tasks: []\n")
        elsewhere = tmp_path / f"{tool}-cwd"
        elsewhere.mkdir()
        proc = run(tool, elsewhere, str(work / "site.yml"), "--list-hosts", cfg=work / "ansible.cfg")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        listed[tool] = hosts_sorted(proc.stdout.replace(str(work), "W"))
    assert listed["hostprep"] == listed["ansible-playbook"] and "h2" in listed["hostprep"]


def test_no_inventory_anywhere_is_an_error_not_a_lab_default(tmp_path: Path) -> None:
    work = project(tmp_path, "hostprep", "[defaults]\n", "- hosts: all\n  tasks: []\n")
    (work / "inventories" / "lab").mkdir(parents=True)
    proc = run("hostprep", work, "site.yml", cfg=work / "ansible.cfg")
    assert proc.returncode == 3 and "no inventory" in proc.stderr, proc.stdout + proc.stderr


GATHER_BOOK = """
- hosts: all
  tasks:
    - copy: {dest: "@OUT@/facts-{{ inventory_hostname }}", content: "{{ ansible_facts | length > 0 }}"}
- hosts: all
  gather_facts: true
  tasks:
    - copy: {dest: "@OUT@/facts2-{{ inventory_hostname }}", content: "{{ ansible_facts | length > 0 }}"}
"""


@pytest.mark.parametrize("gathering", ["implicit", "explicit"])
def test_gathering_setting(tmp_path: Path, gathering: str) -> None:
    seen = {}
    for tool in ("ansible-playbook", "hostprep"):
        work = project(tmp_path, tool, f"[defaults]\ninventory = hosts.ini\ngathering = {gathering}\n", GATHER_BOOK)
        proc = run(tool, work, "site.yml", "--limit", "h1", cfg=work / "ansible.cfg")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        seen[tool] = ((work / "facts-h1").read_text(), (work / "facts2-h1").read_text())
    assert seen["hostprep"] == seen["ansible-playbook"] == (str(gathering == "implicit"), "True")


def test_a_fact_cache_hostprep_lacks_is_refused_not_ignored(tmp_path: Path) -> None:
    # jsonfile and memory are honoured (test_fact_cache_oracle.py); other cache plugins are refused
    cfg = "[defaults]\ninventory = hosts.ini\ngathering = smart\nfact_caching = redis\n"
    work = project(tmp_path, "hostprep", cfg, GATHER_BOOK)
    proc = run("hostprep", work, "site.yml", cfg=work / "ansible.cfg")
    assert proc.returncode == 3 and "fact_caching = redis is not supported" in proc.stderr, proc.stderr


def test_smart_gathering_gathers_once_per_run_as_ansible(tmp_path: Path) -> None:
    seen = {}
    for tool in ("ansible-playbook", "hostprep"):
        work = project(tmp_path, tool, "[defaults]\ninventory = hosts.ini\ngathering = smart\n", GATHER_BOOK)
        proc = run(tool, work, "site.yml", "--limit", "h1", cfg=work / "ansible.cfg")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        # facts gathered once: the first play's gathering answers the second play's
        seen[tool] = ((work / "facts-h1").read_text(), (work / "facts2-h1").read_text(),
                      proc.stdout.count("ok: [h1]"))
    assert seen["hostprep"] == seen["ansible-playbook"] == ("True", "True", 1)


FAIL_BOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - command: /bin/false
      when: inventory_hostname == 'h2'
"""


@pytest.mark.parametrize("save", [False, True])
def test_retry_file_where_ansible_writes_it(tmp_path: Path, save: bool) -> None:
    written = {}
    for tool in ("ansible-playbook", "hostprep"):
        extra = "retry_files_save_path = retries\n" if save else ""
        work = project(tmp_path, tool, f"[defaults]\ninventory = hosts.ini\nretry_files_enabled = True\n{extra}",
                       FAIL_BOOK)
        proc = run(tool, work, "site.yml", cfg=work / "ansible.cfg")
        assert proc.returncode != 0
        path = work / ("retries" if save else "") / "site.retry"
        written[tool] = path.read_text() if path.exists() else None
    assert written["hostprep"] == written["ansible-playbook"] == "h2\n"


def test_retry_files_disabled_by_config(tmp_path: Path) -> None:
    work = project(tmp_path, "hostprep", "[defaults]\ninventory = hosts.ini\nretry_files_enabled = False\n", FAIL_BOOK)
    proc = run("hostprep", work, "site.yml", cfg=work / "ansible.cfg")
    assert proc.returncode == 1 and not (work / "site.retry").exists() and "retry" not in proc.stderr


def test_unknown_settings_are_ignored_with_a_verbose_note(tmp_path: Path) -> None:
    work = project(tmp_path, "hostprep", "[defaults]\ninventory = hosts.ini\nnocows = 1\n[colors]\nok = green\n",
                   "- hosts: all\n  gather_facts: false\n  tasks: []\n")
    quiet = run("hostprep", work, "site.yml", cfg=work / "ansible.cfg")
    assert quiet.returncode == 0 and "nocows" not in quiet.stderr
    loud = run("hostprep", work, "site.yml", "-v", cfg=work / "ansible.cfg")
    assert loud.returncode == 0 and "[defaults] nocows, [colors] ok" in loud.stderr, loud.stderr
    assert f"Using {work / 'ansible.cfg'} as config file" in loud.stderr


def test_search_order_and_environment_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANSIBLE_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    proj = tmp_path / "proj"
    proj.mkdir()
    assert find_config(proj) is None
    (tmp_path / "home" / ".ansible.cfg").write_text("[defaults]\nforks = 7\n")
    assert find_config(proj) == tmp_path / "home" / ".ansible.cfg"
    (proj / "ansible.cfg").write_text("[defaults]\nforks = 9\nremote_user = deploy\n[privilege_escalation]\n"
                                      "become = yes\nbecome_user = app\n[ssh_connection]\nssh_args = -o A=b\n")
    assert find_config(proj) == proj / "ansible.cfg"
    proj.chmod(0o777)  # a world-writable directory's ansible.cfg is skipped, as Ansible does
    assert find_config(proj) == tmp_path / "home" / ".ansible.cfg"
    proj.chmod(0o755)
    monkeypatch.setenv("ANSIBLE_CONFIG", str(tmp_path / "home"))
    (tmp_path / "home" / "ansible.cfg").write_text("[defaults]\n")
    assert find_config(proj) == tmp_path / "home" / "ansible.cfg"
    cfg = AnsibleConfig(proj / "ansible.cfg", environ={"ANSIBLE_FORKS": "11"})
    assert cfg.get("forks") == 11 and cfg.origin("forks") == "$ANSIBLE_FORKS"
    opts = fill_connection(ConnectionOptions(become_user="cli"), cfg=cfg)
    assert (opts.user, opts.become, opts.become_user, opts.ssh_common_args) == ("deploy", True, "cli", "-o A=b")
    with pytest.raises(InputError, match="forks"):
        AnsibleConfig(proj / "ansible.cfg", environ={"ANSIBLE_FORKS": "many"}).get("forks")
