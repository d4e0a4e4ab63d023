"""Container names, image references and lookups with Docker's rules (hostprep/runtime/refs.py), as pure rules
and through the CLI: bad names are refused with the rule, an empty or ambiguous reference never picks a
container, concurrent `run --name` start exactly one container, and bad option values are messages, never
tracebacks.
"""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hostprep.runtime import refs, state


@pytest.mark.parametrize("name", ["web", "a1", "My_box.2-x", "0x", "/web"])
def test_valid_container_names(name: str) -> None:
    assert refs.check_container_name(name) == name.lstrip("/")


@pytest.mark.parametrize("name", ["", "a", "-x", ".x", "_x", "a b", "a/b", "../x", "x\ny", "ü-box", "a" * 254])
def test_invalid_container_names_are_refused_with_the_rule(name: str) -> None:
    with pytest.raises(ValueError, match=r"\[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]\+"):
        refs.check_container_name(name)


@pytest.mark.parametrize("ref, parsed", [
    ("bb", (None, "bb", None, None)),
    ("bb:1.0-rc_1", (None, "bb", "1.0-rc_1", None)),
    ("library/busybox", (None, "library/busybox", None, None)),
    ("localhost/x", ("localhost", "x", None, None)),
    ("registry.example.com:5000/team/app:v2", ("registry.example.com:5000", "team/app", "v2", None)),
    ("a__b/c-d.e:latest", (None, "a__b/c-d.e", "latest", None)),
    ("app@sha256:" + "a" * 64, (None, "app", None, "sha256:" + "a" * 64)),
])
def test_valid_references(ref: str, parsed: tuple) -> None:
    assert refs.parse_image_ref(ref) == parsed


@pytest.mark.parametrize("ref, why", [
    ("", "empty"), ("BB", "lowercase"), ("team/App", "lowercase"), ("../x", "does not match"),
    ("a b", "does not match"), ("x\n", "does not match"), ("a:b:c", "does not match"), ("x:", "does not match"),
    ("x:.tag", "does not match"), ("-x", "does not match"), ("x//y", "does not match"), ("/x", "does not match"),
    ("x@sha256:abc", "does not match"), ("x@md5:" + "a" * 32, "only sha256"), ("a" * 256, "longer than 255"),
])
def test_invalid_references_are_refused_with_the_rule(ref: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        refs.parse_image_ref(ref)


def test_image_name_for_storing_has_a_tag_and_no_digest() -> None:
    assert refs.check_image_name("bb") == "bb:latest"
    assert refs.check_image_name("localhost:5000/x:1") == "localhost:5000/x:1"
    with pytest.raises(ValueError, match="digest"):
        refs.check_image_name("x@sha256:" + "b" * 64)


STATES = [{"id": "abc123def456", "name": "web"}, {"id": "abd000000001", "name": "abc1"},
          {"id": "ffff00000000", "name": "abc123def456x"}]


def test_lookup_exact_id_then_exact_name_then_unique_prefix() -> None:
    assert refs.find_container(STATES, "abc123def456")["name"] == "web"
    assert refs.find_container(STATES, "abc1")["id"] == "abd000000001"  # a name wins over an ID prefix
    assert refs.find_container(STATES, "abc12")["name"] == "web"  # a unique prefix
    assert refs.find_container(STATES, "ff")["name"] == "abc123def456x"
    assert refs.find_container(STATES, "nothing") is None
    assert refs.find_container(STATES, "/web")["id"] == "abc123def456"


@pytest.mark.parametrize("ref, why", [("", "empty"), ("ab", "ambiguous"), ("a", "ambiguous")])
def test_empty_or_ambiguous_reference_is_refused(ref: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        refs.find_container(STATES, ref)


def test_name_reservation_is_atomic_across_processes(tmp_path: Path) -> None:
    """16 processes reserve one name at once: exactly one gets it; a stale holder (no container dir) is taken
    over; only the holder releases."""
    (tmp_path / "containers").mkdir()
    pids = []
    for i in range(16):
        pid = os.fork()
        if pid == 0:
            try:
                cid = f"{i:012x}"
                refs.reserve_name(str(tmp_path), "race", cid)
                (tmp_path / "containers" / cid).mkdir()
                os._exit(0)
            except refs.NameInUse:
                os._exit(3)
            except BaseException:  # noqa: BLE001
                os._exit(4)
        pids.append(pid)
    codes = sorted(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids)
    assert codes == [0] + [3] * 15
    holder = (tmp_path / "names/race").read_text().splitlines()[0]
    refs.release_name(str(tmp_path), "race", "not-the-holder")
    assert (tmp_path / "names/race").read_text().splitlines()[0] == holder
    (tmp_path / "containers" / holder).rmdir()  # the container and its reserver are gone: the name is stale
    refs.reserve_name(str(tmp_path), "race", "newcomer0000")
    assert (tmp_path / "names/race").read_text().splitlines() == [
        "newcomer0000", f"{os.getpid()} {state.start_time(os.getpid())}"]


def test_a_reservation_whose_directory_is_not_made_yet_holds_while_its_reserver_runs(tmp_path: Path) -> None:
    """The window the 16-process race found: a run has reserved its name but not yet made its container
    directory. While that run lives, the name is held; once it ends without a directory, the name is free."""
    (tmp_path / "containers").mkdir()
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        os.close(go_w)
        refs.reserve_name(str(tmp_path), "slow", "aaaaaaaaaaaa")
        os.write(ready_w, b"x")
        os.read(go_r, 1)  # still "between reserving and making the directory"
        os._exit(0)
    os.close(ready_w)
    os.close(go_r)
    try:
        assert os.read(ready_r, 1) == b"x"
        with pytest.raises(refs.NameInUse, match="aaaaaaaaaaaa"):
            refs.reserve_name(str(tmp_path), "slow", "bbbbbbbbbbbb")
        assert refs.sweep_names(str(tmp_path)) == []
    finally:
        os.write(go_w, b"x")
        os.waitpid(pid, 0)
    assert refs.sweep_names(str(tmp_path)) == ["slow"]
    refs.reserve_name(str(tmp_path), "slow", "bbbbbbbbbbbb")


# -- through the CLI ---------------------------------------------------------------------------------------------
def _ids(rt) -> list[str]:
    res = rt("ps", "-a", "--format", "json")
    assert res.returncode == 0, res.stderr
    return [s["id"] for s in json.loads(res.stdout)]


def _refused(res: subprocess.CompletedProcess, *words: str) -> None:
    assert res.returncode == 125, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    for word in words:
        assert word in res.stderr, res.stderr


def test_rm_with_an_empty_reference_removes_nothing(rt) -> None:
    started = rt("run", "-d", "bb", "sleep", "60")
    assert started.returncode == 0, started.stderr
    cid = started.stdout.strip()
    try:
        _refused(rt("rm", "-f", ""), "empty")
        _refused(rt("inspect", ""), "empty")
        _refused(rt("stop", ""), "empty")
        _refused(rt("kill", ""), "empty")
        assert cid in _ids(rt)
        state = json.loads(rt("inspect", cid).stdout)
        assert state["status"] == "running"
    finally:
        rt("rm", "-f", cid)


def test_exact_name_wins_over_an_id_prefix(rt) -> None:
    first = rt("run", "-d", "bb", "sleep", "60").stdout.strip()
    named = rt("run", "-d", "--name", first[:6], "bb", "sleep", "60")
    assert named.returncode == 0, named.stderr
    try:
        assert rt("rm", "-f", first[:6]).stdout.strip() == named.stdout.strip()
        assert first in _ids(rt)
    finally:
        rt("rm", "-f", first)
        rt("rm", "-f", named.stdout.strip())


def test_concurrent_runs_with_one_name_start_exactly_one(rt) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: rt("run", "-d", "--name", "racer", "bb", "sleep", "60"), range(6)))
    try:
        winners = [r for r in results if r.returncode == 0]
        assert len(winners) == 1, [(r.returncode, r.stderr) for r in results]
        for loser in results:
            if loser.returncode != 0:
                _refused(loser, "already in use")
        states = json.loads(rt("ps", "-a", "--format", "json").stdout)
        assert [s["id"] for s in states if s["name"] == "racer"] == [winners[0].stdout.strip()]
    finally:
        rt("rm", "-f", "racer")
    again = rt("run", "--rm", "--name", "racer", "bb", "true")  # released by rm
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize("args, words", [
    (["run", "--rm", "--name", "a b", "bb", "true"], ["invalid container name"]),
    (["run", "--rm", "--name", "../x", "bb", "true"], ["[a-zA-Z0-9][a-zA-Z0-9_.-]+"]),
    (["run", "--rm", "", "true"], ["empty"]),
    (["run", "--rm", "../bb", "true"], ["invalid reference format"]),
    (["run", "--rm", "BB", "true"], ["lowercase"]),
    (["run", "--rm", "bb", ""], ["command is empty"]),
    (["run", "--rm", "--cpus", "inf", "bb", "true"], ["--cpus", "finite"]),
    (["run", "--rm", "--cpus", "100000", "bb", "true"], ["range of CPUs"]),
    (["run", "--rm", "-m", "1k", "bb", "true"], ["Minimum memory limit allowed is 6MB"]),
    (["run", "--rm", "-m", "inf", "bb", "true"], ["invalid size"]),
    (["kill", "-s", "BOGUS", "whatever"], ["invalid signal"]),
    (["tag", "bb", "Upper"], ["lowercase"]),
    (["tag", "bb", "x\ny"], ["invalid reference"]),
    (["rmi", ""], ["empty"]),
])
def test_bad_input_is_a_message_not_a_traceback(rt, tmp_path: Path, args: list[str], words: list[str]) -> None:
    _refused(rt(*args), *words)


@pytest.mark.parametrize("name", ["", "../x", "a b", "Bad", "x\ny"])
def test_import_refuses_a_bad_name_before_reading(rt, tmp_path: Path, name: str) -> None:
    _refused(rt("import", str(tmp_path / "not-even-there.tar"), name), "reference")


@pytest.mark.parametrize("value, expected", [("0", "max"), ("-1", "max"), ("7", "7")])
def test_pids_limit_zero_and_minus_one_mean_unlimited(rt, value: str, expected: str) -> None:
    started = rt("run", "-d", "--pids-limit", value, "bb", "sleep", "60")
    assert started.returncode == 0, started.stderr
    try:
        state = json.loads(rt("inspect", started.stdout.strip()).stdout)
        paths = state["cgroup"].values() if isinstance(state["cgroup"], dict) else state["cgroup"]
        pids_dirs = [p for p in paths if os.path.exists(os.path.join(p, "pids.max"))]
        assert pids_dirs, state["cgroup"]
        assert Path(pids_dirs[0], "pids.max").read_text().strip() == expected
    finally:
        rt("rm", "-f", started.stdout.strip())


def test_image_lookup_by_name_digest_and_id_prefix(rt) -> None:
    listed = json.loads(rt("images", "--format", "json").stdout)
    digest = next(i["digest"] for i in listed if i["name"] == "bb:latest")
    for ref in (f"bb@{digest}", digest, digest[7:19]):
        res = rt("run", "--rm", ref, "true")
        assert res.returncode == 0, (ref, res.stderr)
    _refused(rt("run", "--rm", f"other@{digest}", "true"), "no such image")
    _refused(rt("run", "--rm", "bb@sha256:1234", "true"), "invalid reference")


def test_sweep_removes_only_reservations_of_containers_that_are_gone(tmp_path: Path) -> None:
    (tmp_path / "containers/aaaa00000000").mkdir(parents=True)
    refs.reserve_name(str(tmp_path), "live", "aaaa00000000")
    pid = os.fork()
    if pid == 0:  # reserved by a run that has ended without making its container directory
        refs.reserve_name(str(tmp_path), "gone", "bbbb00000000")
        os._exit(0)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    refs.reserve_name(str(tmp_path), "mine", "dddd00000000")  # this process runs on: held, though no directory
    assert refs.sweep_names(str(tmp_path)) == ["gone"]
    refs.release_name(str(tmp_path), "mine", "dddd00000000")
    assert sorted(p.name for p in (tmp_path / "names").iterdir() if not p.name.startswith(".")) == ["live"]
    with pytest.raises(refs.NameInUse):
        refs.reserve_name(str(tmp_path), "live", "cccc00000000")


def test_image_id_prefix_that_matches_several_images_is_refused(tmp_path: Path) -> None:
    """17 images: two of them share the first hex digit of their ID (pigeonhole), and one digit is refused."""
    import io
    import tarfile

    from hostprep.runtime.store import ImageError, Store

    store = Store(str(tmp_path / "store"))
    for i in range(17):
        layer = tmp_path / f"l{i}.tar"
        with tarfile.open(layer, "w") as t:
            info = tarfile.TarInfo(f"f{i}")
            info.size = 1
            t.addfile(info, io.BytesIO(b"x"))
        with store.lock():
            store.commit(f"img{i}", [str(layer)], config={"Cmd": [f"/f{i}"]})
    digests = [d for _, d in store.images()]
    first = [d[7] for d in digests]
    shared = next(c for c in first if first.count(c) > 1)
    with pytest.raises(ImageError, match="ambiguous"):
        store.lookup(shared)
    unique = digests[0][7:19]
    assert store.lookup(unique) == digests[0]
    assert store.lookup("img0") == store.lookup("img0:latest") == digests[0]
