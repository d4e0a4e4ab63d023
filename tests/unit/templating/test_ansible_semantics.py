"""Templating rules the oracle cannot show in one play: errors, files a lookup creates, search order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hostprep.errors import InputError
from hostprep.templating.templar import Templar, TemplateError
from hostprep.templating.versions import VersionError, compare_versions


@pytest.mark.parametrize("text", ["{{ [nope, 1] }}", "{{ {'a': nope} }}", "x={{ [1, {'k': [nope]}] }}"])
def test_an_undefined_name_inside_a_literal_fails_with_the_expression(text: str) -> None:
    with pytest.raises(TemplateError, match=r"'nope' is undefined in .*nope.* \(in task t\)"):
        Templar({}).render(text, context="task t")


def test_backslashes_in_expression_strings_are_literal_but_not_in_conditionals() -> None:
    t = Templar({"s": "a1b22"})
    # as YAML gave it: '\\d+' inside {{ }} is the regex \\d+ (a backslash, then d), as Ansible reads it
    assert t.render("{{ s | regex_findall('\\\\d+') }}") == []
    assert t.render("{{ s | regex_findall('\\d+') }}") == ["1", "22"]
    assert t.render("{{ 'a\\nb' | length }}") == 4
    # a conditional is an expression Jinja reads itself (Ansible disables the escaping there)
    assert t.is_true("'a\\nb' | length == 3")


@pytest.mark.parametrize("a,op,b,kind,expected", [
    ("1.0.0", "==", "1.0", None, False), ("1.0", "<", "1.0.0", None, True), ("1.10", ">", "1.9", None, True),
    ("1.2", "==", "1.2.0", "strict", True), ("1.2b1", "<", "1.2", "strict", True),
    ("1.0.0-rc.1", "<", "1.0.0-rc.2", "semver", True), ("1.0.0-alpha", "<", "1.0.0-alpha.1", "semver", True),
    ("1.0.0-2", "<", "1.0.0-alpha", "semver", True), ("2.0.0+b1", "==", "2.0.0+b2", "semantic", True),
    ("1.0", "==", "1.0.0", "pep440", True), ("1.0rc1", "<", "1.0", "pep440", True),
])
def test_version_types(a: str, op: str, b: str, kind: str | None, expected: bool) -> None:
    assert compare_versions(a, b, op, version_type=kind) is expected


@pytest.mark.parametrize("args,message", [
    (("1.0", "1.0", "~"), "invalid operator"), (("1.0", "1.0", "eq", True, "loose"), "both"),
    (("", "1.0"), "cannot be empty"), (("1.a", "1.1", "<"), "cannot compare"),
    (("1", "1.0", "eq", None, "strict"), "invalid version number"),
    (("1.0", "1.0", "eq", None, "x"), "invalid version type"),
])
def test_version_errors(args: tuple, message: str) -> None:
    a, b, *rest = args
    op = rest[0] if rest else "eq"
    strict = rest[1] if len(rest) > 1 else None
    kind = rest[2] if len(rest) > 2 else None
    with pytest.raises(VersionError, match=message):
        compare_versions(a, b, op, strict=strict, version_type=kind)


def test_a_version_error_fails_the_template_with_the_expression() -> None:
    with pytest.raises(TemplateError, match="cannot compare.*1.a"):
        Templar({}).render("{{ '1.a' is version('1.1', '<') }}")


def test_password_lookup_creates_a_private_file_once_and_reads_it_back(tmp_path: Path) -> None:
    t = Templar({"playbook_dir": str(tmp_path)}, searchpath=[tmp_path])
    first = t.render("{{ lookup('password', 'creds/db length=12 chars=digits') }}")
    assert len(first) == 12 and first.isdigit()
    path = tmp_path / "creds" / "db"
    assert path.read_text() == first + "\n" and (path.stat().st_mode & 0o777) == 0o600
    assert Templar({"playbook_dir": str(tmp_path)}).render("{{ lookup('password', 'creds/db') }}") == first
    assert len(t.render("{{ lookup('password', '/dev/null') }}")) == 20
    with pytest.raises(InputError, match="encrypt"):
        t.render("{{ lookup('password', 'x encrypt=sha512_crypt') }}")


def test_fileglob_searches_the_role_files_first_and_pipe_runs_in_the_playbook_dir(tmp_path: Path) -> None:
    role, play = tmp_path / "roles" / "r", tmp_path / "play"
    for d, names in ((role / "files", ["a.conf"]), (play / "files", ["b.conf"])):
        d.mkdir(parents=True)
        for n in names:
            (d / n).write_text("x")
    t = Templar({"playbook_dir": str(play)}, searchpath=[role, play])
    assert [os.path.basename(p) for p in t.render("{{ query('fileglob', '*.conf') }}")] == ["a.conf"]
    assert t.render("{{ query('fileglob', '*.nothing') }}") == []
    assert t.render("{{ lookup('pipe', 'pwd') }}") == str(play)


def test_lookup_errors_name_the_lookup(tmp_path: Path) -> None:
    t = Templar({"x": 1}, searchpath=[tmp_path])
    with pytest.raises(InputError, match="No variable named 'nope'"):
        t.render("{{ lookup('vars', 'nope') }}")
    with pytest.raises(InputError, match="could not find file 'none.csv'"):
        t.render("{{ lookup('csvfile', 'k file=none.csv') }}")
    with pytest.raises(InputError, match="unknown option 'bogus'"):
        t.render("{{ lookup('ini', 'k', bogus=1) }}")
    with pytest.raises(InputError, match="not supported"):
        t.render("{{ lookup('nosuchlookup', 'x') }}")
    with pytest.raises(InputError,
                       match=r"option\(s\) convert_data not supported by hostprep \(supported: template_vars\)"):
        t.render("{{ lookup('template', 'x.j2', convert_data=false) }}")


def test_inventory_hostnames_patterns() -> None:
    groups = {"all": ["w1", "w2", "db1", "lone"], "ungrouped": ["lone"], "web": ["w1", "w2"], "db": ["db1"],
              "prod": ["w1", "db1"]}
    t = Templar({"groups": groups})
    assert t.render("{{ query('inventory_hostnames', 'all') }}") == ["w1", "w2", "db1", "lone"]
    assert t.render("{{ query('inventory_hostnames', 'web:db') }}") == ["w1", "w2", "db1"]
    assert t.render("{{ query('inventory_hostnames', 'web:&prod') }}") == ["w1"]
    assert t.render("{{ query('inventory_hostnames', 'all:!web') }}") == ["db1", "lone"]
    assert t.render("{{ query('inventory_hostnames', 'w*') }}") == ["w1", "w2"]
    assert t.render("{{ query('inventory_hostnames', '~^d') }}") == ["db1"]
    assert t.render("{{ lookup('inventory_hostnames', 'db') }}") == "db1"
    with pytest.raises(InputError, match="groups"):
        Templar({}).render("{{ query('inventory_hostnames', 'all') }}")


def test_vault_filters_round_trip_and_vaulted_file(tmp_path: Path) -> None:
    t = Templar({})
    assert t.render("{{ 'hello' | vault('pw') | unvault('pw') }}") == "hello"
    assert t.render("{{ ('x' | vault('pw')) is vault_encrypted }}") is False  # text, as in Ansible 2.19
    assert t.render("{{ 'plain' | unvault('pw') }}") == "plain"
    with pytest.raises(InputError, match="unvault"):
        t.render("{{ 'x' | vault('pw') | unvault('wrong') }}")
    (tmp_path / "v.yml").write_text(t.render("{{ 'a: 1' | vault('pw') }}"))
    assert t.render("{{ '" + str(tmp_path / "v.yml") + "' is vaulted_file }}") is True
    assert t.render("{{ '/etc/hostname' is vaulted_file }}") is False


def test_url_lookup_reads_lines_from_a_local_http_server(tmp_path: Path) -> None:
    import functools
    import http.server
    import threading

    (tmp_path / "page.txt").write_text("one\ntwo\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/page.txt"
        t = Templar({"u": url})
        assert t.render("{{ query('url', u) }}") == ["one", "two"]
        assert t.render("{{ lookup('url', u, split_lines=false) }}") == "one\ntwo\n"
        with pytest.raises(InputError, match="failed lookup url"):
            t.render("{{ lookup('url', u ~ '.missing') }}")
        with pytest.raises(InputError, match="does not support"):
            t.render("{{ lookup('url', u, ca_path='/x') }}")
    finally:
        server.shutdown()
        server.server_close()


def test_type_debug_names_the_native_type_of_playbook_values() -> None:
    from hostprep.yamlsource import UnsafeText, load_yaml_text

    data = load_yaml_text("d: {a: [1, x]}\n", "vars.yml")
    t = Templar({"d": data["d"], "u": UnsafeText("{{ raw }}")})
    assert t.render("{{ [d, d.a, d.a[1], u, none, 1.5, true] | map('type_debug') | list }}") == [
        "dict", "list", "str", "str", "NoneType", "float", "bool"]
