"""The added modules run for real through LocalTransport on a tmp tree: converge, no-op re-run, check mode
leaves every byte as it was."""

from __future__ import annotations

import hashlib
import io
import os
import pwd
import re
import tarfile
import zipfile
from pathlib import Path

import pytest

from hostprep.modules import get_module
from hostprep.modules.base import TaskContext
from hostprep.transport.local import LocalTransport

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl deploy@ci"


@pytest.fixture(autouse=True)
def crontab_on_path(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ansible's cron requires a `crontab` program even for a cron_file, which it never runs for one; this
    machine has no cron. The stand-in fails loudly if it is ever run."""
    bindir = tmp_path_factory.mktemp("crontab-bin")
    (bindir / "crontab").write_text("#!/bin/sh\necho 'crontab stand-in run for a cron_file' >&2\nexit 97\n")
    (bindir / "crontab").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ.get('PATH', '')}")


def run(name: str, raw: dict, *, check: bool = False, files: Path | None = None, **variables) -> dict:
    mod = get_module(name)()
    args = mod.validate(raw)

    def find(name: str, kind: str) -> Path:
        return files / name if files and not os.path.isabs(name) else Path(name)

    ctx = TaskContext(transport=LocalTransport(), host="localhost", check_mode=check, diff=True, find_file=find,
                      variables=variables)
    return mod.run(args, ctx)


def snapshot(root: Path) -> dict[str, tuple[int, bytes | None]]:
    return {str(p): (p.lstat().st_mode, None if p.is_dir() or p.is_symlink() else p.read_bytes())
            for p in sorted(root.rglob("*"))}


def _tgz(path: Path) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in (("app/bin/run", b"#!/bin/sh\n"), ("app/README", b"app\n")):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tf.addfile(info, io.BytesIO(data))


def _zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("z/one.txt", "one\n")
        zf.writestr("z/sub/two.txt", "two\n")


CASES = [
    ("replace", lambda d: {"path": str(d / "hosts"), "regexp": r"^10\.0\.0\.(\d+) old", "replace": r"10.0.0.\1 new",
                           "mode": "0600"}),
    ("cron", lambda d: {"name": "job", "job": "true", "user": "root", "cron_file": str(d / "cron.d" / "hp"),
                        "minute": "5"}),
    ("cron", lambda d: {"name": "PATH", "env": True, "job": "/bin", "user": "root", "cron_file": str(d / "crontab")}),
    ("authorized_key", lambda d: {"user": "root", "key": KEY, "path": str(d / "ssh" / "authorized_keys"),
                                  "exclusive": True}),
    ("unarchive", lambda d: {"src": "app.tgz", "dest": str(d / "out"), "mode": "u=rwx,g=rx,o="}),
    ("unarchive", lambda d: {"src": str(d / "arch.zip"), "dest": str(d / "out"), "remote_src": True}),
    ("unarchive", lambda d: {"src": "arch.zip", "dest": str(d / "out"), "exclude": ["z/sub/*"]}),
]


@pytest.mark.parametrize("name,make", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_converge_idempotent_and_check_mode(tmp_path: Path, name: str, make) -> None:
    files = tmp_path / "controller"
    files.mkdir()
    _tgz(files / "app.tgz")
    _zip(files / "arch.zip")
    d = tmp_path / "host"
    (d / "cron.d").mkdir(parents=True)
    (d / "out").mkdir()
    (d / "hosts").write_text("127.0.0.1 localhost\n10.0.0.5 old\n")
    (d / "crontab").write_text("#Ansible: x\n* * * * * root true\n")
    (d / "arch.zip").write_bytes((files / "arch.zip").read_bytes())
    (d / "ssh").mkdir(mode=0o700)
    (d / "ssh" / "authorized_keys").write_text("ssh-rsa AAAAB3NzaC1yc2E old@laptop\n")
    raw = make(d)
    before = snapshot(d)
    assert run(name, raw, check=True, files=files)["changed"] is True
    assert snapshot(d) == before
    first = run(name, raw, files=files)
    assert first["changed"] is True and not first.get("failed"), first
    after = snapshot(d)
    assert after != before
    assert run(name, raw, files=files)["changed"] is False
    assert run(name, raw, check=True, files=files)["changed"] is False
    assert snapshot(d) == after


def test_written_results(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text("a old\nb old\n")
    res = run("replace", {"path": str(tmp_path / "hosts"), "regexp": "old$", "replace": "new", "backup": True})
    assert res["msg"] == "2 replacements made" and Path(res["backup_file"]).read_text() == "a old\nb old\n"
    assert (tmp_path / "hosts").read_text() == "a new\nb new\n"
    bad = run("replace", {"path": str(tmp_path / "hosts"), "regexp": "new", "replace": "x", "validate": "false %s"})
    assert bad["failed"] and (tmp_path / "hosts").read_text() == "a new\nb new\n"
    assert not list(tmp_path.glob("*hostprep-new*"))

    cron = tmp_path / "cron"
    run("cron", {"name": "a", "job": "echo a", "user": "root", "cron_file": str(cron), "special_time": "reboot"})
    run("cron", {"name": "b", "job": "echo b", "user": "root", "cron_file": str(cron), "hour": "3"})
    assert cron.read_text() == "#Ansible: a\n@reboot root echo a\n#Ansible: b\n* 3 * * * root echo b\n"
    res = run("cron", {"name": "a", "state": "absent", "cron_file": str(cron)})
    assert res["changed"] and res["jobs"] == ["b"]
    run("cron", {"name": "b", "state": "absent", "cron_file": str(cron)})
    assert not cron.exists()  # an emptied cron_file is removed, as Ansible does

    keys = tmp_path / "k" / "authorized_keys"
    res = run("authorized_key", {"user": "root", "key": KEY, "path": str(keys), "comment": "new comment"})
    assert keys.read_text() == KEY.rsplit(" ", 1)[0] + " new comment\n"
    assert oct(keys.stat().st_mode & 0o777) == "0o600" and oct(keys.parent.stat().st_mode & 0o777) == "0o700"
    assert res["keyfile"] == str(keys) and res["diff"]["before"] == ""
    run("authorized_key", {"user": "root", "key": KEY, "path": str(keys), "state": "absent"})
    assert keys.read_text() == ""


def test_find_reads_the_real_tree(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.log").write_text("needle\n")
    (tmp_path / "c.txt").write_text("needle\n")
    os.utime(tmp_path / "a.log", (1_000_000, 1_000_000))
    res = run("find", {"paths": str(tmp_path), "patterns": "*.log", "recurse": True, "get_checksum": True})
    by_path = {f["path"]: f for f in res["files"]}
    assert set(by_path) == {str(tmp_path / "a.log"), str(tmp_path / "sub" / "b.log")}
    assert by_path[str(tmp_path / "sub" / "b.log")]["checksum"] == hashlib.sha1(b"needle\n").hexdigest()
    assert by_path[str(tmp_path / "a.log")]["mtime"] == 1_000_000
    assert by_path[str(tmp_path / "a.log")]["pw_name"] == pwd.getpwuid(os.getuid()).pw_name
    old = run("find", {"paths": str(tmp_path), "age": "1w", "recurse": True})
    assert [f["path"] for f in old["files"]] == [str(tmp_path / "a.log")]
    hit = run("find", {"paths": str(tmp_path), "contains": "need", "recurse": True, "limit": 5})
    assert sorted(f["path"] for f in hit["files"]) == [str(tmp_path / "c.txt"), str(tmp_path / "sub" / "b.log")]


def test_fetch_layout_and_idempotence(tmp_path: Path) -> None:
    src = tmp_path / "etc" / "app.conf"
    src.parent.mkdir()
    src.write_text("v=1\n")
    res = run("fetch", {"src": str(src), "dest": "got"}, playbook_dir=str(tmp_path))
    dest = tmp_path / "got" / "localhost" / str(src).lstrip("/")
    assert res["changed"] and res["dest"] == str(dest) and dest.read_text() == "v=1\n"
    assert run("fetch", {"src": str(src), "dest": "got"}, playbook_dir=str(tmp_path))["changed"] is False
    flat = run("fetch", {"src": str(src), "dest": str(tmp_path / "flat") + "/", "flat": True})
    assert flat["dest"] == str(tmp_path / "flat" / "app.conf")
    gone = run("fetch", {"src": str(tmp_path / "nope"), "dest": "got"}, playbook_dir=str(tmp_path))
    assert gone["failed"] and gone["msg"] == "the remote file does not exist, not transferring, ignored"
    assert get_module("fetch").supports_check_mode is False  # skipped in check mode, as Ansible does


def test_tempfile_script_pause_wait_for_connection_getent(tmp_path: Path) -> None:
    made = run("tempfile", {"state": "directory", "path": str(tmp_path), "prefix": "p.", "suffix": ".s"})
    path = Path(made["path"])
    assert made["changed"] and path.is_dir() and path.name.startswith("p.") and path.name.endswith(".s")
    assert made["mode"] == "0700"
    script = tmp_path / "s.sh"
    script.write_text("#!/bin/sh\necho \"args:$*\"; pwd; exit ${EXIT:-0}\n")
    res = run("script", {"cmd": f"{script} a 'b c'", "chdir": str(path)})
    assert res["changed"] and res["rc"] == 0 and res["stdout_lines"] == ["args:a b c", str(path)]
    assert not list(Path("/tmp").glob(".hostprep-script-*"))  # removed after the run
    failed = run("script", {"cmd": "s.sh", "executable": "EXIT=3 sh"}, files=tmp_path)
    assert failed["failed"] and failed["rc"] == 3 and failed["msg"] == "non-zero return code"
    assert run("script", {"cmd": "s.sh"}, check=True, files=tmp_path)["skipped"] is True
    paused = re.fullmatch(r"Paused for ([0-9.]+) seconds", run("pause", {"seconds": 1})["stdout"])
    assert paused and 1.0 <= float(paused.group(1)) < 60, paused  # the time measured: at least the 1 s asked
    assert run("wait_for_connection", {"timeout": 5}) == {"changed": False, "elapsed": 0}
    entry = run("getent", {"database": "passwd", "key": "root"})
    assert entry["ansible_facts"]["getent_passwd"]["root"][4] == pwd.getpwnam("root").pw_dir
    assert run("getent", {"database": "no-such-db"})["failed"]


def test_package_facts_from_this_machine() -> None:
    res = run("package_facts", {})
    pkgs = res["ansible_facts"]["packages"]
    assert "bash" in pkgs and pkgs["bash"][0]["source"] in ("apt", "rpm") and pkgs["bash"][0]["version"]


def test_hostname_probe_on_this_machine_plans_nothing_for_its_own_name() -> None:
    res = run("hostname", {"name": os.uname().nodename}, check=True)
    assert res["changed"] is False and res["ansible_facts"]["ansible_hostname"] == os.uname().nodename.split(".")[0]
    other = run("hostname", {"name": "not-" + os.uname().nodename}, check=True)
    assert other["changed"] is True and "diff" in other


def test_modules_are_listed_and_documented() -> None:
    from click.testing import CliRunner

    from hostprep.cli.doc import command

    names = ["replace", "hostname", "cron", "getent", "find", "fetch", "unarchive", "authorized_key",
             "package_facts", "service_facts", "script", "tempfile", "pause", "wait_for_connection", "mount"]
    listing = CliRunner().invoke(command, []).output
    for name in names:
        cls = get_module(name)
        assert cls is get_module(f"ansible.builtin.{name}") or name in ("authorized_key", "mount")
        assert cls.doc and cls.examples, name
        assert name in listing, name
        assert CliRunner().invoke(command, [name]).exit_code == 0, name
    assert get_module("ansible.posix.authorized_key") is get_module("authorized_key")
    assert get_module("ansible.posix.mount") is get_module("mount")


def test_mount_tmpfs_with_its_own_fstab(tmp_path: Path) -> None:
    """A real tmpfs mount (the tests run as root) through an fstab file of the test's own."""
    import subprocess

    fstab, point = tmp_path / "fstab", tmp_path / "mnt" / "a"
    fstab.write_text("# test\n")
    raw = {"path": str(point), "src": "tmpfs", "fstype": "tmpfs", "opts": "size=1m", "state": "mounted",
           "fstab": str(fstab)}

    def options() -> str:
        return subprocess.run(["findmnt", "-rn", "-o", "OPTIONS", str(point)], capture_output=True, text=True).stdout

    try:
        assert run("mount", raw, check=True)["changed"] is True and not point.exists()
        assert run("ansible.posix.mount", raw)["changed"] is True
        assert "size=1024k" in options() and fstab.read_text().endswith(f"tmpfs {point} tmpfs size=1m 0 0\n")
        assert run("mount", raw)["changed"] is False
        bigger = {**raw, "opts": "size=2m"}
        assert run("mount", bigger)["changed"] is True and "size=2048k" in options()
        assert run("mount", bigger)["changed"] is False
        assert run("mount", {**raw, "state": "unmounted"})["changed"] is True and options() == ""
        assert run("mount", {**raw, "state": "absent"})["changed"] is True
        assert fstab.read_text() == "# test\n" and not point.exists()
    finally:
        subprocess.run(["umount", str(point)], capture_output=True)


def test_cron_backup_keeps_the_old_file(tmp_path: Path) -> None:
    cron = tmp_path / "c"
    first = run("cron", {"name": "a", "job": "true", "user": "root", "cron_file": str(cron), "backup": True})
    assert Path(first["backup_file"]).read_text() == ""  # there was no file yet
    second = run("cron", {"name": "a", "job": "false", "user": "root", "cron_file": str(cron), "backup": True})
    assert Path(second["backup_file"]).read_text() == "#Ansible: a\n* * * * * root true\n"
    assert cron.read_text() == "#Ansible: a\n* * * * * root false\n"
    for res in (first, second):
        Path(res["backup_file"]).unlink()
