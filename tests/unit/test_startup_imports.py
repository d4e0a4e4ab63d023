"""A plain `hostprep apply` imports only what the run needs (issue 17 §4: start-up).

Checked on a real run (what sys.modules holds at exit, local connection): no live display library when the
output is not a terminal, no lab or verify code, and only the modules the play's tasks use.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from hostprep.cli.main import SUBCOMMANDS, SUMMARIES, cli

NOT_NEEDED = ("rich", "hostprep.lab", "hostprep.verify", "hostprep.runtime", "tarfile", "zipfile", "urllib.request",
              "hostprep.modules.unarchive", "hostprep.modules.dnf", "hostprep.modules.get_url")


SSH_STACK = ("paramiko", "fabric", "invoke")


def imported_by(argv: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run `hostprep ARGV` in a fresh interpreter; what sys.modules held when it exited."""
    listing = cwd / "modules.txt"
    listing.unlink(missing_ok=True)
    code = ("import atexit, runpy, sys\n"
            f"atexit.register(lambda: open({str(listing)!r}, 'w').write('\\n'.join(sorted(sys.modules))))\n"
            f"sys.argv = ['hostprep', *{argv!r}]\n"
            "runpy.run_module('hostprep.cli.main', run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd)
    return proc, set(listing.read_text().split())


def matching(imported: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in imported if any(m == n or m.startswith(n + ".") for n in names))


@pytest.mark.parametrize("flag", ["--syntax-check", "--list-tasks", "--list-hosts"])
def test_checking_or_listing_a_play_does_not_load_the_ssh_stack(tmp_path: Path, flag: str) -> None:
    """Nothing is contacted, so paramiko, fabric and invoke (a third of a run's imports) stay unloaded."""
    (tmp_path / "hosts.ini").write_text("[web]\nw1 ansible_host=192.0.2.1 ansible_user=deploy\n")
    (tmp_path / "play.yml").write_text(
        "- hosts: web\n  become: true\n  tasks:\n"
        "    - copy: content=x dest=/tmp/x mode=0644\n"
        "    - name: a templated one\n      debug: msg={{ inventory_hostname }}\n")
    proc, imported = imported_by(["apply", "-i", str(tmp_path / "hosts.ini"), str(tmp_path / "play.yml"), flag],
                                 tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "w1" in proc.stdout if flag == "--list-hosts" else True
    assert "a templated one" in proc.stdout if flag == "--list-tasks" else True
    assert {"hostprep.playbook.loader", "click"} <= imported  # the listing itself works
    assert matching(imported, SSH_STACK) == []


@pytest.mark.parametrize("argv", [["--help"], ["--version"]], ids=["help", "version"])
def test_help_and_version_load_no_subcommand(tmp_path: Path, argv: list[str]) -> None:
    proc, imported = imported_by(argv, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ("apply      Apply PLAYBOOK" in proc.stdout) if argv == ["--help"] else ("version" in proc.stdout)
    assert matching(imported, (*SSH_STACK, "rich", "cryptography", "jinja2", "yaml", "hostprep.cli.lab",
                               "hostprep.cli.apply", "hostprep.vault", "hostprep.lab")) == []


def test_help_summaries_are_the_commands_own() -> None:
    """`hostprep --help` lists SUMMARIES instead of importing each command: they must say what the commands say."""
    ctx = click.Context(cli)
    assert sorted(SUMMARIES) == sorted(SUBCOMMANDS)
    for name in SUBCOMMANDS:
        assert SUMMARIES[name] == cli.get_command(ctx, name).get_short_help_str(limit=10_000), name


def test_a_noop_apply_imports_only_what_it_needs(tmp_path: Path) -> None:
    (tmp_path / "hosts.ini").write_text("[all]\nlocalhost ansible_connection=local\n")
    (tmp_path / "play.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        f"    - copy: content=x dest={tmp_path}/out mode=0644\n"
        "    - debug: msg=done\n")
    listing = tmp_path / "modules.txt"
    code = ("import atexit, runpy, sys\n"
            f"atexit.register(lambda: open({str(listing)!r}, 'w').write('\\n'.join(sorted(sys.modules))))\n"
            f"sys.argv = ['hostprep', 'apply', '-i', {str(tmp_path / 'hosts.ini')!r}, {str(tmp_path / 'play.yml')!r},"
            " '--json']\n"
            "runpy.run_module('hostprep.cli.main', run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    imported = set(listing.read_text().split())
    assert {"hostprep.modules.copy", "hostprep.modules.debug", "jinja2"} <= imported  # the listing itself works
    unwanted = sorted(m for m in imported if any(m == n or m.startswith(n + ".") for n in NOT_NEEDED))
    assert unwanted == []
