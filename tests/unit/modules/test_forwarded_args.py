"""Arguments public roles pass that Ansible forwards: package -> backend, service -> systemd, user's keys.

Planning is checked against probe output captured on an EL9 lab host; ssh-keygen is run for real (as
root, into a tmp dir) through a local host, since that command is the part most likely to be wrong.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hostprep.errors import ModuleArgError
from hostprep.modules import get_module
from tests.unit.modules.conftest import captured, plan_of

BIN = Path(sys.executable).parent / "hostprep"


def test_package_keeps_backend_arguments_for_the_backend() -> None:
    package = get_module("package")()
    args = package.validate({"name": "docker-ce", "state": "present", "enablerepo": "epel",
                             "allow_downgrade": True})
    assert args["_backend_args"] == {"enablerepo": "epel", "allow_downgrade": True}
    dnf = get_module("dnf")()
    inner = dnf.validate(package._backend_args(args))
    assert inner["enablerepo"] == ["epel"] and inner["allow_downgrade"] is True
    with pytest.raises(ModuleArgError, match="not an argument of dnf, yum, apt"):
        package.validate({"name": "x", "state": "present", "bogus": 1})


def test_service_takes_what_ansible_forwards_to_systemd() -> None:
    service = get_module("service")()
    args = service.validate({"daemon_reload": True})
    assert args["daemon_reload"] is True and args.get("name") is None
    assert not plan_of("service", {"daemon_reload": True}, "").changed
    masked = plan_of("service", {"name": "ssh", "masked": True, "no_block": True}, captured("systemd_ssh.txt"))
    assert [s.cmd for s in masked.steps] == ["systemctl mask ssh"]
    with pytest.raises(ModuleArgError, match="name is required"):
        service.validate({"state": "started"})


def test_locked_account_without_password_is_no_change_on_rerun() -> None:
    probe = captured("user_hpu.txt").stdout.replace("hpu:$6$abc$xyz:", "hpu:!!:")
    assert not plan_of("user", {"name": "hpu", "password": "!"}, probe).changed
    assert plan_of("user", {"name": "hpu", "password": "$6$abc$xyz"}, probe).changed


def test_generate_ssh_key_plans_only_when_the_key_is_missing() -> None:
    base = captured("user_hpu.txt").stdout
    args = {"name": "hpu", "generate_ssh_key": True, "ssh_key_bits": 2048, "ssh_key_comment": "c x",
            "ssh_key_passphrase": "pw"}
    missing = plan_of("user", args, base + "@@hostprep:sshkey@@\n")
    (step,) = missing.steps
    assert missing.changed and step.no_log
    assert "ssh-keygen -q -t rsa -b 2048 -C 'c x' -N pw -f \"$f\"" in step.cmd and "chown hpu:" in step.cmd
    assert missing.result["ssh_key_file"] == ".ssh/id_rsa"
    present = plan_of("user", args, base + "@@hostprep:sshkey@@\nexists\nssh-rsa AAAA c x\n2048 SHA256:x c x (RSA)\n")
    assert not present.changed and present.result["ssh_public_key"] == "ssh-rsa AAAA c x"


def test_generate_ssh_key_runs_ssh_keygen_once(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "id_ed25519"
    (tmp_path / "inv.ini").write_text("h1 ansible_connection=local\n")
    (tmp_path / "site.yml").write_text(textwrap.dedent(f"""
        - hosts: all
          gather_facts: false
          tasks:
            - user:
                name: root
                generate_ssh_key: true
                ssh_key_type: ed25519
                ssh_key_file: {key}
                ssh_key_comment: test key
              register: made
            - copy: {{dest: "{tmp_path}/pub", content: "{{{{ made.ssh_public_key }}}}"}}
    """))
    runs = [subprocess.run([str(BIN), "apply", "-i", str(tmp_path / "inv.ini"), str(tmp_path / "site.yml"),
                            "--detailed-exitcode"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
            for _ in range(2)]
    assert runs[0].returncode == 2, runs[0].stdout + runs[0].stderr
    assert key.exists() and (tmp_path / "pub").read_text().startswith("ssh-ed25519 ")
    assert (tmp_path / "pub").read_text().endswith(" test key")
    assert oct((tmp_path / "keys").stat().st_mode & 0o777) == "0o700"
    assert runs[1].returncode == 0, runs[1].stdout + runs[1].stderr  # the key exists: no change
