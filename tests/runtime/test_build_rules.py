"""Docker's Dockerfile and .dockerignore rules as pure logic (the parser, substitution, patterns), and the rules
where podman differs from Docker (so test_build_oracle.py cannot be the judge): EXPOSE ranges, `# escape=``
in ENV, SHELL for the shell form of CMD, Docker's image inspect fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hostprep.runtime import dockerfile, dockerignore


def test_parser_directives_continuations_and_comments() -> None:
    text = "# syntax=docker/dockerfile:1\n# escape=`\n\nFROM x\nRUN a `\n  # gone\n  b\n# comment\nenv A=1\n"
    instructions, escape = dockerfile.parse(text)
    assert escape == "`"
    assert [(i.cmd, i.args, i.line) for i in instructions] == [("FROM", "x", 4), ("RUN", "a   b", 5),
                                                               ("ENV", "A=1", 9)]


def test_directive_after_a_comment_is_a_comment() -> None:
    _, escape = dockerfile.parse("# hello\n# escape=`\nFROM x\n")
    assert escape == "\\"


def test_exec_and_shell_forms() -> None:
    instructions, _ = dockerfile.parse('FROM x\nCMD ["a", "b c"]\nCMD [not json\nENTRYPOINT top -b\n')
    assert [(i.args, i.json_form) for i in instructions[1:]] == [(["a", "b c"], True), ("[not json", False),
                                                                 ("top -b", False)]


@pytest.mark.parametrize("word, expected", [
    ("$A", "1"), ("${A}x", "1x"), ("${NOPE:-d}", "d"), ("${EMPTY:-d}", "d"), ("${EMPTY-d}", ""),
    ("${A:+s}", "s"), ("${NOPE:+s}", ""), ("'$A'", "$A"), ('"$A b"', "1 b"), ("\\$A", "$A"), ("a\\ b", "a b"),
])
def test_substitution(word: str, expected: str) -> None:
    assert dockerfile.expand(word, {"A": "1", "EMPTY": ""}) == expected


def test_env_forms() -> None:
    assert dockerfile.key_values('A=1 B="x y" C=$A', "\\", {"A": "0"}, "ENV") == [("A", "1"), ("B", "x y"),
                                                                                 ("C", "0")]
    assert dockerfile.key_values("LEGACY some value", "\\", {}, "ENV") == [("LEGACY", "some value")]
    assert dockerfile.key_values("X Y=2", "\\", {}, "ARG") == [("X", None), ("Y", "2")]


@pytest.mark.parametrize("patterns, path, excluded", [
    ("*.log", "a.log", True), ("*.log", "d/a.log", False), ("**/*.log", "d/e/a.log", True),
    ("d", "d/e/f", True), ("d\n!d/keep", "d/keep", False), ("d\n!d/keep", "d/other", True),
    ("/abs", "abs", True), ("./x/../y", "y", True), ("a?c", "abc", True), ("a?c", "a/c", False),
    ("[a-c]x", "bx", True), ("a/**/z", "a/z", True), ("a/**/z", "a/b/c/z", True), ("# c\n\n  spaced  ", "spaced", True),
    ("*\n!keep*", "keep.me", False), ("!x", "x", False),
])
def test_dockerignore_rules(patterns: str, path: str, excluded: bool) -> None:
    assert dockerignore.excluded(dockerignore.parse(patterns), path) is excluded


def test_docker_rules_podman_does_not_follow(rt) -> None:
    ctx = Path(rt.base) / "rules"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("# escape=`\nFROM bb\nEXPOSE 8000-8002 9/udp\nENV P=C:\\path Q=`$notvar\n"
                                    'SHELL ["/bin/sh", "-ec"]\nCMD plain\nHEALTHCHECK --interval=1m30s '
                                    "--retries=2 CMD true\nMAINTAINER me\n")
    res = rt("build", "-t", "rules", str(ctx))
    assert res.returncode == 0, res.stderr
    image = json.loads(rt("image", "inspect", "rules").stdout)[0]
    config = image["Config"]
    assert set(config["ExposedPorts"]) == {"8000/tcp", "8001/tcp", "8002/tcp", "9/udp"}
    assert config["Env"][-2:] == ["P=C:\\path", "Q=$notvar"]
    assert config["Cmd"] == ["/bin/sh", "-ec", "plain"] and config["Shell"] == ["/bin/sh", "-ec"]
    assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 90 * 10 ** 9, "Retries": 2}
    assert image["Author"] == "me" and image["Id"].startswith("sha256:") and image["RepoTags"] == ["rules:latest"]
    history = json.loads(rt("history", "--format", "json", "rules").stdout)
    assert [row["created_by"] for row in history][:2] == ["MAINTAINER me", "HEALTHCHECK --interval=1m30s "
                                                          "--retries=2 CMD true"]
    assert history[-1]["created_by"] == "(layer of bb)" and history[-1]["size"] > 0


def test_entrypoint_and_cmd_combine_as_in_docker(rt) -> None:
    ctx = Path(rt.base) / "combine"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text('FROM bb AS base\nCMD ["from-base"]\nFROM base AS kept\nCMD ["mine"]\n'
                                    'ENTRYPOINT ["/bin/echo"]\nFROM base\nENTRYPOINT ["/bin/echo", "ep"]\n')
    assert rt("build", "-t", "combine-kept", "--target", "kept", str(ctx)).returncode == 0
    assert rt("run", "--rm", "combine-kept").stdout == "mine\n"  # CMD of this stage survives ENTRYPOINT
    assert rt("build", "-t", "combine-reset", str(ctx)).returncode == 0
    assert rt("run", "--rm", "combine-reset").stdout == "ep\n"  # the base's CMD is reset by ENTRYPOINT
    assert rt("run", "--rm", "combine-reset", "x").stdout == "ep x\n"


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "postgresql"


def test_the_guides_dockerfile_parses_and_names_its_missing_base(rt) -> None:
    """The guide's PostgreSQL Dockerfile (examples/postgresql) is read as Docker reads it; building it needs a
    centos:7 image, which this store does not have: the build says so on the FROM line, before anything runs."""
    instructions, _ = dockerfile.parse((EXAMPLE / "Dockerfile").read_text())
    assert [i.cmd for i in instructions] == ["FROM", "RUN", "RUN", "EXPOSE", "VOLUME", "VOLUME", "COPY", "RUN",
                                             "ENTRYPOINT", "CMD"]
    res = rt("build", "-t", "pg", str(EXAMPLE))
    line = f"Dockerfile:{instructions[0].line}:"  # the FROM line (its number as the file has it)
    assert instructions[0].original.strip() == "FROM centos:7"
    assert res.returncode == 1 and line in res.stderr and "base image 'centos:7'" in res.stderr
