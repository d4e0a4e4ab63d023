"""Templating with Ansible's semantics: laziness, native values, undefined errors, filters, tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostprep.templating import OMIT, Templar, TemplateError


@pytest.fixture()
def t() -> Templar:
    return Templar({
        "a": 1, "b": "{{ a + 1 }}", "items": [3, 1, 3, 2], "base": "http://m", "url": "{{ base }}/repo",
        "d": {"x": 1, "n": {"y": 2}}, "s1": "{{ s2 }}", "s2": "{{ s1 }}", "res_ok": {"changed": True, "rc": 0},
        "res_bad": {"failed": True}, "text": "docker-ce-24.0.7-1.el9",
    })


def test_native_single_expression_and_lazy_vars(t: Templar) -> None:
    assert t.render("{{ b }}") == 2
    assert t.render("{{ items }}") == [3, 1, 3, 2]
    assert t.render("v={{ b }}") == "v=2"
    assert t.render("{{ b }}\n") == "2\n"  # text around the expression keeps it a string
    assert t.render(" {{ items }}") == " [3, 1, 3, 2]"
    assert t.render({"k": ["{{ url }}"]}) == {"k": ["http://m/repo"]}
    assert t.child({"base": "http://other"}).render("{{ url }}") == "http://other/repo"


def test_undefined_names_the_variable_and_context(t: Templar) -> None:
    with pytest.raises(TemplateError,
                       match=r"'docker_version' is undefined in '\{\{ docker_version \}\}' \(in task 'x'\)"):
        t.render("{{ docker_version }}", context="task 'x'")
    with pytest.raises(TemplateError, match="recursive loop"):
        t.render("{{ s1 }}")
    assert t.render("{{ docker_version | default('latest') }}") == "latest"
    assert t.is_true("docker_version is not defined")


def test_omit(t: Templar) -> None:
    assert t.render("{{ omit }}") is OMIT
    assert t.render("{{ nothing | default(omit) }}") is OMIT


@pytest.mark.parametrize("expr,expected", [
    ("items | unique", [3, 1, 2]),
    ("items | union([9])", [1, 2, 3, 9]),
    ("items | difference([3])", [1, 2]),
    ("[[1, [2]], 3] | flatten", [1, 2, 3]),
    ("d | combine({'n': {'z': 3}}, recursive=True)", {"x": 1, "n": {"y": 2, "z": 3}}),
    ("d | dict2items | items2dict", {"x": 1, "n": {"y": 2}}),
    ("'a,b' | split(',')", ["a", "b"]),
    ("text | regex_replace('-\\d.*$', '')", "docker-ce"),
    ("text | regex_search('(\\d+\\.\\d+\\.\\d+)', '\\1')", ["24.0.7"]),
    ("'/etc/x/y.conf' | basename", "y.conf"),
    ("'/etc/x/y.conf' | dirname", "/etc/x"),
    ("'hi' | b64encode | b64decode", "hi"),
    ("'abc' | hash('sha256')", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("\"it's\" | quote", "'it'\"'\"'s'"),
    ("'yes' | bool", True),
    ("'3' | int + 1", 4),
    ("{'a': 1} | to_json", '{"a": 1}'),
    ("'{\"a\": [1]}' | from_json", {"a": [1]}),
    ("'a: 1' | from_yaml", {"a": 1}),
    ("true | ternary('on', 'off')", "on"),
    ("[{'n': 1, 'ok': true}, {'n': 2, 'ok': false}] | selectattr('ok') | map(attribute='n') | list", [1]),
    ("'24.0.7' is version('24.0.10', '<')", True),
    ("res_ok is changed and res_ok is succeeded", True),
    ("res_bad is failed", True),
    ("text is search('el9$')", True),
    ("text is match('docker')", True),
    ("[1] is subset([1, 2])", True),
])
def test_filters_and_tests(t: Templar, expr: str, expected: object) -> None:
    assert t.render("{{ " + expr + " }}") == expected


def test_conditionals(t: Templar) -> None:
    assert t.is_true("a == 1")
    assert t.is_true("{{ b > 1 }}")
    assert t.is_true(["a == 1", "b == 2"])
    assert not t.is_true(["a == 1", "b == 3"])
    assert not t.child({"flag": "false"}).is_true("flag")
    with pytest.raises(TemplateError, match="conditional"):
        t.is_true("nope == 1")


def test_render_file_with_include(tmp_path: Path, t: Templar) -> None:
    (tmp_path / "part.j2").write_text("part {{ a }}\n")
    main = tmp_path / "main.j2"
    main.write_text("{% for i in items | unique %}{{ i }},{% endfor %}\n{% include 'part.j2' %}url={{ url }}\n")
    assert t.render_file(main) == "3,1,2,part 1\nurl=http://m/repo\n"
    bad = tmp_path / "bad.j2"
    bad.write_text("{{ missing_var }}\n")
    with pytest.raises(TemplateError, match=r"'missing_var' is undefined.*bad.j2"):
        t.render_file(bad)


def test_lookups(t: Templar, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTPREP_T", "v1")
    assert t.render("{{ lookup('env', 'HOSTPREP_T') }}") == "v1"
    (tmp_path / "f.txt").write_text("content\n")
    t2 = Templar({}, searchpath=[tmp_path])
    assert t2.render("{{ lookup('file', 'f.txt') }}") == "content"
    assert t2.render("{{ query('dict', {'k': 1}) }}") == [{"key": "k", "value": 1}]


def test_random_filter_like_ansible() -> None:
    t = Templar({"h": "web1"})
    values = {t.render("{{ 10 | random }}") for _ in range(200)}
    assert values <= set(range(10)) and len(values) > 3
    assert {t.render("{{ 10 | random(start=5, step=2) }}") for _ in range(100)} <= {5, 7, 9}
    seeded = t.render("{{ 60 | random(seed=h) }}")
    assert all(t.render("{{ 60 | random(seed=h) }}") == seeded for _ in range(5))
    assert t.render("{{ ['a', 'b'] | random }}") in ("a", "b")


def test_compiled_templates_are_reused_per_source_and_escaping() -> None:
    """A string is compiled once per environment (the control node's CPU on many hosts), rendered anew each time."""
    from hostprep.templating.templar import _compiled

    a, b = Templar({"x": 1}), Templar({"x": 2})
    assert a.env is b.env
    assert a.render("v={{ x }}") == "v=1" and b.render("v={{ x }}") == "v=2"
    assert _compiled(a.env, "v={{ x }}", True) is _compiled(b.env, "v={{ x }}", True)
    # backslash escaping changes what the lexer makes of a string: compiled apart
    assert _compiled(a.env, "v={{ x }}", False) is not _compiled(a.env, "v={{ x }}", True)
    assert a.render("{{ 'a\\d' }}") == "a\\d"
    # impure filters are not folded into the compiled template (it would give one value forever)
    assert len({a.render("{{ [1, 2, 3, 4, 5, 6, 7, 8] | shuffle | join(',') }}") for _ in range(30)}) > 1
