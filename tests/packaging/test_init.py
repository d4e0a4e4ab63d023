"""`hostprep init DIR`: a starter project from package data that works as it is, and never overwrites a file."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import hostprep
from hostprep.cli.init import starter_files, write_starter
from hostprep.cli.main import cli
from hostprep.errors import InputError
from hostprep.inventory import load_inventory
from hostprep.playbook.loader import load_playbook, shipped_roles_dir

ROOT = Path(__file__).resolve().parents[2]


def hostprep_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hostprep.cli.main", *args], cwd=cwd, capture_output=True,
                          text=True)


def test_the_starter_has_a_playbook_an_inventory_with_group_vars_templates_and_config() -> None:
    names = {str(p) for p in starter_files()}
    assert {"site.yml", "ansible.cfg", "README.md", "inventories/example/hosts.yml",
            "inventories/example/group_vars/all.yml", "templates/motd.j2", "molecule/el9/molecule.yml",
            "molecule/shared/converge.yml"} <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_init_makes_a_project_whose_playbook_uses_the_shipped_roles(tmp_path: Path) -> None:
    proc = hostprep_cli("init", "proj", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    project = tmp_path / "proj"
    for rel, content in starter_files().items():
        assert (project / rel).read_bytes() == content
        assert f"created {Path('proj') / rel}" in proc.stdout
    (play,) = load_playbook(project / "site.yml").plays
    assert [r.path for r in play.roles] == [shipped_roles_dir() / "docker", shipped_roles_dir() / "runtime"]
    inv = load_inventory([str(project / "inventories" / "example")])
    hv = inv.host_vars("build.example.com")
    assert hv["docker_users"] == ["deploy"] and hv["ansible_port"] == 2222
    assert "inventory = inventories/example" in (project / "ansible.cfg").read_text()


def test_init_into_the_current_directory(tmp_path: Path) -> None:
    proc = hostprep_cli("init", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "site.yml").is_file() and (tmp_path / "inventories/example/hosts.yml").is_file()


def test_init_refuses_an_existing_file_by_name_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "motd.j2").write_text("mine\n")
    proc = hostprep_cli("init", ".", cwd=tmp_path)
    assert proc.returncode == 3
    assert "templates/motd.j2: already exists" in proc.stderr and "nothing was written" in proc.stderr
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["templates",
                                                                                       "templates/motd.j2"]
    assert (tmp_path / "templates" / "motd.j2").read_text() == "mine\n"


def test_init_refuses_a_dangling_link_in_the_way(tmp_path: Path) -> None:
    os.symlink(tmp_path / "elsewhere", tmp_path / "site.yml")
    with pytest.raises(InputError, match="site.yml: already exists"):
        write_starter(tmp_path)
    assert not (tmp_path / "elsewhere").exists()


def test_init_refuses_a_file_as_the_directory(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    proc = hostprep_cli("init", "f", cwd=tmp_path)
    assert proc.returncode != 0 and "f" in proc.stderr


def test_init_names_the_pip_command_for_molecule_when_it_is_missing(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "molecule" else real(name, *a))
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert "pip install 'hostprep[molecule]'" in result.output


def test_verify_names_the_pip_command_when_testinfra_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "testinfra" else real(name, *a))
    result = CliRunner().invoke(cli, ["verify", "-i", "h1,"])
    assert result.exit_code == 1
    assert "pip install pytest-testinfra" in result.output


def test_version_is_the_installed_distribution_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "hostprep.cli.main", "--version"], capture_output=True, text=True)
    assert proc.stdout.strip() == f"hostprep, version {importlib.metadata.version('hostprep')}"
    assert importlib.metadata.version("hostprep") == hostprep.__version__
