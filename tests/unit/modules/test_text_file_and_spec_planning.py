"""Module planning as pure logic: text edits, modes, version specifiers, repo files, argument checks."""

from __future__ import annotations

import pytest

from hostprep.errors import ModuleArgError
from hostprep.modules import get_module, module_names
from hostprep.modules._files import target_mode
from hostprep.modules.blockinfile import edit_block
from hostprep.modules.ini_file import edit_ini
from hostprep.modules.lineinfile import edit_lines
from hostprep.modules.pip import satisfied
from hostprep.modules.yum_repository import parse_repo_file, render_repo_file


def lines(text: str, **kw) -> tuple[str, str]:
    base = dict(line=None, regexp=None, search_string=None, state="present", insertafter=None, insertbefore=None,
                backrefs=False, firstmatch=False)
    base.update(kw)
    return edit_lines(text, **base)


@pytest.mark.parametrize("text,kw,expected", [
    pytest.param("a=1\nb=2\n", dict(line="b=3", regexp="^b="), ("a=1\nb=3\n", "line replaced"), id="regexp-replaces"),
    pytest.param("a=1\n", dict(line="a=1"), ("a=1\n", ""), id="present-line-is-ok"),
    pytest.param("a=1\n", dict(line="c=3"), ("a=1\nc=3\n", "line added"), id="missing-line-appended"),
    pytest.param("a=1\nb=2\n", dict(line="x", insertbefore="^b"), ("a=1\nx\nb=2\n", "line added"),
                 id="insertbefore"),
    pytest.param("a\nb\na\n", dict(line="x", insertafter="^a$"), ("a\nb\na\nx\n", "line added"),
                 id="insertafter-last-match"),
    pytest.param("a\nb\na\n", dict(line="x", insertafter="^a$", firstmatch=True), ("a\nx\nb\na\n", "line added"),
                 id="insertafter-firstmatch"),
    pytest.param("z\n", dict(line="x", insertbefore="BOF"), ("x\nz\n", "line added"), id="insertbefore-BOF"),
    pytest.param("k=1\nk=2\n", dict(line="k=9", regexp="^k="), ("k=1\nk=9\n", "line replaced"),
                 id="regexp-replaces-last-match"),
    pytest.param("port 22\n", dict(line=r"port \1", regexp=r"^port (\d+)", backrefs=True), ("port 22\n", ""),
                 id="backrefs-same-line-is-ok"),
    pytest.param("nothing\n", dict(line=r"x\1", regexp=r"^port (\d+)", backrefs=True), ("nothing\n", ""),
                 id="backrefs-without-match-adds-nothing"),
    pytest.param("a\n#b\nc\n", dict(regexp="^#", state="absent"), ("a\nc\n", "1 line(s) removed"),
                 id="absent-by-regexp"),
    pytest.param("no newline", dict(line="x"), ("no newline\nx\n", "line added"), id="no-final-newline"),
])
def test_lineinfile_rules(text: str, kw: dict, expected: tuple[str, str]) -> None:
    assert lines(text, **kw) == expected


def test_blockinfile_rules() -> None:
    kw = dict(marker="# {mark} M", marker_begin="BEGIN", marker_end="END", insertafter=None, insertbefore=None)
    out, msg = edit_block("a\n", block="x\ny\n", state="present", **kw)
    assert (out, msg) == ("a\n# BEGIN M\nx\ny\n# END M\n", "Block inserted")
    assert edit_block(out, block="x\ny\n", state="present", **kw) == (out, "")
    out2, _ = edit_block(out, block="z\n", state="present", **kw)
    assert out2 == "a\n# BEGIN M\nz\n# END M\n"
    assert edit_block(out2, block="", state="absent", **kw) == ("a\n", "Block removed")


def test_ini_rules() -> None:
    kw = dict(no_extra_spaces=False, allow_no_value=False)
    out, msg = edit_ini("", section="s", option="k", value="1", state="present", **kw)
    assert (out, msg) == ("\n[s]\nk = 1\n", "section and option added")  # as community.general's ini_file
    assert edit_ini(out, section="s", option="k", value="1", state="present", **kw) == (out, "OK")
    out2, _ = edit_ini(out, section="s", option="k", value="2", state="present", **kw)
    assert out2 == "\n[s]\nk = 2\n"
    out3, _ = edit_ini(out2, section="t", option="j", value="x", state="present", no_extra_spaces=True,
                       allow_no_value=False)
    assert out3 == "\n[s]\nk = 2\n\n[t]\nj=x\n"
    assert edit_ini(out3, section="s", option="k", value=None, state="absent", **kw)[0] == "\n[s]\n\n[t]\nj=x\n"


@pytest.mark.parametrize("spec,current,is_dir,expected", [
    ("0644", 0o600, False, 0o644), ("644", 0o600, False, 0o644), ("u=rw,g=r,o=r", 0o777, False, 0o644),
    ("u+x", 0o644, False, 0o744), ("go-w", 0o666, False, 0o644), ("a+X", 0o644, True, 0o755),
    ("a+X", 0o644, False, 0o644), ("u+s", 0o755, False, 0o4755), (None, 0o600, False, None),
])
def test_modes(spec: str | None, current: int, is_dir: bool, expected: int | None) -> None:
    assert target_mode(spec, current, is_dir) == expected


def test_bad_mode_is_refused() -> None:
    with pytest.raises(ModuleArgError, match="neither octal nor symbolic"):
        target_mode("rwxr-xr-x", 0o644, False)


@pytest.mark.parametrize("spec,ok", [
    ("docker-compose", True), ("docker-compose==2.26.1", True), ("docker_compose>=2", True),
    ("docker-compose<2", False), ("Docker.Compose~=2.26.0", True), ("docker-compose==2.*", True),
    ("requests", False), ("docker-compose!=2.26.1", False),
])
def test_pip_specifiers(spec: str, ok: bool) -> None:
    assert satisfied(spec, {"docker-compose": "2.26.1"}) is ok


def test_repo_file_round_trip() -> None:
    text = "[a]\nname = A\nenabled = 1\n\n[b]\nname = B\n\n"
    data = parse_repo_file(text)
    assert data == [("a", [("name", "A"), ("enabled", "1")]), ("b", [("name", "B")])]
    assert render_repo_file(data) == text


def test_every_required_module_exists_with_ansible_names() -> None:
    wanted = {"command", "shell", "raw", "file", "copy", "template", "lineinfile", "blockinfile", "ini_file",
              "get_url", "stat", "slurp", "package", "dnf", "yum", "apt", "yum_repository", "rpm_key", "service",
              "systemd", "systemd_service", "pip", "user", "group", "sysctl", "debug", "set_fact", "assert", "fail",
              "wait_for", "reboot", "include_vars"}
    missing = {m for m in wanted if get_module(m) is None or get_module(f"ansible.builtin.{m}") is None}
    assert missing == set()
    assert set(module_names()) >= wanted - {"systemd_service"}


def test_argument_validation() -> None:
    copy = get_module("copy")()
    with pytest.raises(ModuleArgError, match="unsupported argument 'contnt'"):
        copy.validate({"dest": "/x", "contnt": "y"})
    with pytest.raises(ModuleArgError, match="missing required argument 'dest'"):
        copy.validate({"content": "y"})
    with pytest.raises(ModuleArgError, match="mutually exclusive"):
        copy.validate({"dest": "/x", "content": "y", "src": "z"})
    f = get_module("file")()
    with pytest.raises(ModuleArgError, match="not one of"):
        f.validate({"path": "/x", "state": "sideways"})
    assert f.validate({"dest": "/x", "recurse": "yes"})["recurse"] is True
    with pytest.raises(ModuleArgError, match="not a valid boolean"):
        f.validate({"path": "/x", "recurse": "maybe"})
