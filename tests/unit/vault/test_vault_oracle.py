"""Vault interoperability with ansible-vault both ways, and vaulted data in real runs.

ansible-vault (installed with ansible-core) is the oracle: what one encrypts the other must decrypt,
for files (1.1 and labelled 1.2) and for encrypt_string values; playbooks read vaulted vars files,
group_vars, include_vars, copy sources and inline !vault values, and never print a decrypted value.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hostprep.errors import InputError
from hostprep.vault import keyring
from hostprep.vault.cipher import VaultDecryptError, decrypt, encrypt
from hostprep.vault.envelope import parse
from hostprep.vault.secrets import VaultSecret, load_secret

BIN = Path(sys.executable).parent
SECRET_VALUE = "s3cr3t-v4lue-xyz"


def run(*cmd: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(cwd / ".ansible"),
           "ANSIBLE_LOCAL_TEMP": str(cwd / ".ansible-tmp"), "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    env.pop("ANSIBLE_CONFIG", None)
    return subprocess.run([str(BIN / cmd[0]), *cmd[1:]], capture_output=True, text=True, cwd=cwd, env=env,
                          input=stdin, timeout=120)


@pytest.fixture
def pw(tmp_path: Path) -> Path:
    path = tmp_path / "pw.txt"
    path.write_text("correct horse\n")
    return path


def test_cipher_round_trip_and_wrong_password() -> None:
    text = encrypt(b"hello\n", b"pw", "prod")
    assert text.startswith("$ANSIBLE_VAULT;1.2;AES256;prod\n") and all(len(x) <= 80 for x in text.splitlines())
    assert parse(text).vault_id == "prod"
    assert decrypt(text, b"pw") == b"hello\n"
    with pytest.raises(VaultDecryptError):
        decrypt(text, b"other")
    assert encrypt(b"x", b"pw").startswith("$ANSIBLE_VAULT;1.1;AES256\n")


@pytest.mark.parametrize("label", [None, "prod"])
def test_files_cross_both_ways(tmp_path: Path, pw: Path, label: str | None) -> None:
    vid = [f"--vault-id={label}@{pw}"] if label else [f"--vault-password-file={pw}"]
    plain = "db_password: hunter2\nlist: [1, 2]\n"
    ours, theirs = tmp_path / "ours.yml", tmp_path / "theirs.yml"
    ours.write_text(plain)
    theirs.write_text(plain)
    assert run("hostprep", "vault", "encrypt", str(ours), *vid, cwd=tmp_path).returncode == 0
    assert run("ansible-vault", "encrypt", str(theirs), *vid, cwd=tmp_path).returncode == 0
    assert ours.read_text().splitlines()[0] == theirs.read_text().splitlines()[0]
    view = run("ansible-vault", "view", str(ours), *vid, cwd=tmp_path)
    assert view.returncode == 0 and view.stdout == plain, view.stderr
    view = run("hostprep", "vault", "view", str(theirs), *vid, cwd=tmp_path)
    assert view.returncode == 0 and view.stdout == plain, view.stderr
    # rekey with hostprep, read with ansible-vault; decrypt in place with hostprep
    new = tmp_path / "new.txt"
    new.write_text("battery staple")
    assert run("hostprep", "vault", "rekey", str(theirs), *vid, f"--new-vault-password-file={new}",
               cwd=tmp_path).returncode == 0
    assert run("ansible-vault", "view", str(theirs), f"--vault-password-file={new}", cwd=tmp_path).stdout == plain
    assert run("hostprep", "vault", "decrypt", str(ours), *vid, cwd=tmp_path).returncode == 0
    assert ours.read_text() == plain


def test_encrypt_string_both_ways(tmp_path: Path, pw: Path) -> None:
    ours = run("hostprep", "vault", "encrypt_string", SECRET_VALUE, "--name", "api_key",
               f"--vault-password-file={pw}", cwd=tmp_path)
    theirs = run("ansible-vault", "encrypt_string", SECRET_VALUE, "--name", "other_key",
                 f"--vault-password-file={pw}", cwd=tmp_path)
    assert ours.returncode == theirs.returncode == 0, ours.stderr + theirs.stderr
    assert ours.stdout.startswith("api_key: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n")
    (tmp_path / "vars.yml").write_text(ours.stdout + theirs.stdout)
    # ansible reads ours, hostprep reads theirs (through debug in a playbook each)
    book = tmp_path / "site.yml"
    book.write_text("- hosts: localhost\n  gather_facts: false\n  vars_files: [vars.yml]\n  tasks:\n"
                    "    - copy: {dest: '{{ out }}', content: '{{ api_key }} {{ other_key }}'}\n")
    for tool in ("ansible-playbook", "hostprep"):
        out = tmp_path / f"out-{tool}"
        args = ["apply"] if tool == "hostprep" else []
        proc = run(tool, *args, "-i", str(_local_inventory(tmp_path)), str(book), "-e", f"out={out}",
                   f"--vault-password-file={pw}", cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert out.read_text() == f"{SECRET_VALUE} {SECRET_VALUE}"


def _local_inventory(tmp: Path) -> Path:
    inv = tmp / "inv.ini"
    inv.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    return inv


def test_vaulted_files_everywhere_in_a_run_and_values_censored(tmp_path: Path, pw: Path) -> None:
    """group_vars, vars_files, include_vars and copy sources vaulted; the decrypted values never shown."""
    def vault(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(encrypt(text.encode(), b"correct horse", "default"))

    vault(tmp_path / "group_vars/all.yml", f"gv_secret: gv-{SECRET_VALUE}\n")
    vault(tmp_path / "play_vars.yml", f"pv_secret: pv-{SECRET_VALUE}\n")
    vault(tmp_path / "inc.yml", f"iv_secret: iv-{SECRET_VALUE}\n")
    vault(tmp_path / "files/secret.conf", f"conf {SECRET_VALUE}\n")
    (tmp_path / "site.yml").write_text(textwrap.dedent(f"""
        - hosts: all
          gather_facts: false
          vars_files: [play_vars.yml]
          tasks:
            - include_vars: inc.yml
            - copy: {{src: secret.conf, dest: "{tmp_path}/copied.conf", mode: "0600"}}
            - debug: {{msg: "{{{{ gv_secret }}}} {{{{ pv_secret }}}} {{{{ iv_secret }}}}"}}
            - command: echo {{{{ pv_secret }}}}
    """))
    inv = _local_inventory(tmp_path)
    proc = run("hostprep", "apply", "-i", str(inv), "site.yml", f"--vault-id=default@{pw}", "-v", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "copied.conf").read_text() == f"conf {SECRET_VALUE}\n"
    assert SECRET_VALUE not in proc.stdout + proc.stderr, proc.stdout
    assert "has been hidden" in proc.stdout
    missing = run("hostprep", "apply", "-i", str(inv), "site.yml", cwd=tmp_path)
    assert missing.returncode == 3 and "no vault password given" in missing.stderr, missing.stderr
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("nope")
    bad = run("hostprep", "apply", "-i", str(inv), "site.yml", f"--vault-password-file={wrong}", cwd=tmp_path)
    assert bad.returncode == 3 and "no vault password given opens this" in bad.stderr, bad.stderr


def test_password_sources_file_executable_client_and_labels(tmp_path: Path) -> None:
    script = tmp_path / "pass.sh"
    script.write_text("#!/bin/sh\necho from-script\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    client = tmp_path / "keyring-client.sh"
    client.write_text('#!/bin/sh\n[ "$1" = --vault-id ] && echo "pw-for-$2"\n')
    client.chmod(client.stat().st_mode | stat.S_IXUSR)
    assert load_secret(str(script)).password == b"from-script"
    assert load_secret(f"prod@{client}") == VaultSecret("prod", b"pw-for-prod", str(client))
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(InputError, match="empty"):
        load_secret(str(empty))
    # the label named in the file is tried first; any other password still opens it
    keyring.configure([VaultSecret("dev", b"a", "x"), VaultSecret("prod", b"b", "y")])
    try:
        assert keyring.decrypt_text(encrypt(b"v", b"a", "prod")) == b"v"
        with pytest.raises(InputError, match="vault ids tried: dev, prod"):
            keyring.decrypt_text(encrypt(b"v", b"c", "prod"))
    finally:
        keyring.configure([])


def test_ask_vault_pass_reads_stdin_without_a_terminal(tmp_path: Path, pw: Path) -> None:
    target = tmp_path / "f.yml"
    target.write_text("a: 1\n")
    assert run("ansible-vault", "encrypt", str(target), f"--vault-password-file={pw}", cwd=tmp_path).returncode == 0
    proc = run("hostprep", "vault", "view", str(target), "--ask-vault-pass", cwd=tmp_path, stdin="correct horse\n")
    assert proc.returncode == 0 and proc.stdout == "a: 1\n", proc.stderr


def test_inventory_and_facts_read_vaulted_group_vars(tmp_path: Path, pw: Path) -> None:
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "hosts.ini").write_text("h1\n")
    (tmp_path / "inv" / "group_vars").mkdir()
    (tmp_path / "inv" / "group_vars" / "all.yml").write_text(
        encrypt(f"ansible_connection: local\nsecret_value: {SECRET_VALUE}\n".encode(), b"correct horse"))
    listed = run("hostprep", "inventory", "-i", "inv", "--host", "h1", f"--vault-password-file={pw}", cwd=tmp_path)
    theirs = run("ansible-inventory", "-i", "inv", "--host", "h1", f"--vault-password-file={pw}", cwd=tmp_path)
    assert listed.returncode == theirs.returncode == 0, listed.stderr + theirs.stderr
    assert json.loads(listed.stdout) == json.loads(theirs.stdout)
    facts = run("hostprep", "facts", "-i", "inv", "h1", f"--vault-password-file={pw}", cwd=tmp_path)
    assert facts.returncode == 0 and '"distribution"' in facts.stdout, facts.stderr
    assert run("hostprep", "facts", "-i", "inv", "h1", cwd=tmp_path).returncode == 3
