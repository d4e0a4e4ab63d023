"""The roles hostprep ships are found by name from any project, after the project's own roles (Ansible's order)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostprep.errors import InputError
from hostprep.playbook.loader import load_playbook, shipped_roles_dir

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_DOCKER = ROOT / "roles" / "docker"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def role_paths(book: Path, **kwargs) -> list[Path]:
    (play,) = load_playbook(book, **kwargs).plays
    return [r.path for r in play.roles]


def test_shipped_roles_are_the_package_data_which_in_a_checkout_is_roles() -> None:
    assert (ROOT / "hostprep" / "roles").is_symlink()
    assert shipped_roles_dir() == ROOT / "roles"
    assert (shipped_roles_dir() / "docker" / "tasks" / "main.yml").is_file()


def test_every_role_under_roles_is_found_as_hostprep_name(tmp_path: Path) -> None:
    names = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir() or (p / "meta").is_dir())
    assert "docker" in names
    book = write(tmp_path / "site.yml", "- hosts: all\n  roles: [" + ", ".join(f"hostprep.{n}" for n in names) + "]\n")
    found = role_paths(book)
    for name in names:
        assert ROOT / "roles" / name in found


def test_short_name_finds_the_shipped_role_from_an_empty_project(tmp_path: Path) -> None:
    book = write(tmp_path / "site.yml", "- hosts: all\n  roles: [docker]\n")
    assert role_paths(book) == [SHIPPED_DOCKER]


def test_a_project_role_shadows_the_short_name_but_not_hostprep_name(tmp_path: Path) -> None:
    write(tmp_path / "roles/docker/tasks/main.yml", "- debug: msg=mine\n")
    book = write(tmp_path / "site.yml", "- hosts: all\n  roles: [docker, hostprep.docker]\n")
    assert role_paths(book) == [tmp_path / "roles" / "docker", SHIPPED_DOCKER]


def test_roles_path_and_ansible_roles_path_come_before_the_shipped_roles(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    book = write(tmp_path / "site.yml", "- hosts: all\n  roles: [docker]\n")
    write(tmp_path / "env/docker/tasks/main.yml", "- debug: msg=env\n")
    monkeypatch.setenv("ANSIBLE_ROLES_PATH", str(tmp_path / "env"))
    assert role_paths(book) == [tmp_path / "env" / "docker"]
    write(tmp_path / "extra/docker/tasks/main.yml", "- debug: msg=extra\n")
    assert role_paths(book, roles_path=[tmp_path / "extra"]) == [tmp_path / "extra" / "docker"]


def test_a_role_beside_the_playbook_comes_before_the_shipped_one(tmp_path: Path) -> None:
    write(tmp_path / "docker/tasks/main.yml", "- debug: msg=beside\n")
    book = write(tmp_path / "site.yml", "- hosts: all\n  roles: [docker]\n")
    assert role_paths(book) == [tmp_path / "docker"]


def test_a_galaxy_style_project_role_named_hostprep_dot_name_wins(tmp_path: Path) -> None:
    write(tmp_path / "roles/hostprep.docker/tasks/main.yml", "- debug: msg=galaxy\n")
    book = write(tmp_path / "site.yml", "- hosts: all\n  roles: [hostprep.docker]\n")
    assert role_paths(book) == [tmp_path / "roles" / "hostprep.docker"]


def test_an_unknown_role_names_every_place_searched_shipped_last(tmp_path: Path) -> None:
    book = write(tmp_path / "site.yml", "- hosts: all\n  roles:\n    - hostprep.nosuchrole\n")
    with pytest.raises(InputError) as err:
        load_playbook(book)
    message = str(err.value)
    assert f"{book}:3" in message and "hostprep.nosuchrole" in message
    assert message.rstrip(")").endswith(str(shipped_roles_dir()))


def test_a_project_role_can_depend_on_a_shipped_role(tmp_path: Path) -> None:
    write(tmp_path / "roles/app/meta/main.yml", "dependencies:\n  - role: hostprep.docker\n")
    write(tmp_path / "roles/app/tasks/main.yml", "- debug: msg=app\n")
    book = write(tmp_path / "site.yml", "- hosts: all\n  roles: [app]\n")
    assert role_paths(book)[0] == SHIPPED_DOCKER
