"""--json / human output censor secret parameters, not every key that contains a secret-sounding word."""

from __future__ import annotations

from hostprep.output.events import censor
from hostprep.transport.connect import become_from_vars
from hostprep.vault import keyring


def test_getent_passwd_and_secret_named_paths_are_shown() -> None:
    result = {"ansible_facts": {"getent_passwd": {"root": ["x", "0"]}}, "secret_file_path": "/etc/x.key",
              "password_expire_max": 90, "ssh_key_file": "id"}
    assert censor(result) == result


def test_secret_parameters_are_hidden_anywhere() -> None:
    result = {"invocation": {"module_args": {"name": "bob", "password": "$6$hash", "login_password": "pw"}},
              "results": [{"token": "abc"}], "passwd": None}
    shown = censor(result)
    assert shown["invocation"]["module_args"] == {"name": "bob", "password": "********", "login_password": "********"}
    assert shown["results"] == [{"token": "********"}] and shown["passwd"] is None


def test_the_become_password_makes_a_result_that_shows_it_censored() -> None:
    become_from_vars({"ansible_become": True, "ansible_become_password": "Hunter2-become"})
    assert keyring.mentions_secret({"stdout": "echo Hunter2-become"})
    assert not keyring.mentions_secret({"stdout": "nothing here"})


def test_role_variables_named_like_passwords_stay_hidden() -> None:
    assert censor({"db_password": "x1", "vault_pass": "x2", "github_token": "x3"}) == {
        "db_password": "********", "vault_pass": "********", "github_token": "********"}
