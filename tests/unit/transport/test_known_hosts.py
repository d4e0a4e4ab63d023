"""accept-new records host keys in known_hosts: once, on a line of its own, under concurrency;
a key that differs from the recorded one is refused; and streamed payloads."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import paramiko
import pytest

from hostprep.errors import HostKeyError
from hostprep.transport.known_hosts import fingerprint, record_host_key
from hostprep.transport.remote_put import Payload


def test_record_appends_one_line_after_a_missing_newline(tmp_path: Path) -> None:
    known = tmp_path / "sub" / "known_hosts"
    known.parent.mkdir()
    other = paramiko.Ed25519Key.from_private_key(io.StringIO(_new_key(tmp_path, "o")))
    known.write_text(f"otherhost {other.get_name()} {other.get_base64()}")  # no trailing newline
    key = paramiko.Ed25519Key.from_private_key(io.StringIO(_new_key(tmp_path, "k")))
    record_host_key(known, "[10.0.0.1]:2222", key)
    record_host_key(known, "[10.0.0.1]:2222", key)  # already there: nothing written
    lines = known.read_text().splitlines()
    assert lines == [f"otherhost {other.get_name()} {other.get_base64()}",
                     f"[10.0.0.1]:2222 {key.get_name()} {key.get_base64()}"]
    assert paramiko.HostKeys(str(known)).lookup("[10.0.0.1]:2222")[key.get_name()] == key
    # a different key for a recorded host is refused, naming both fingerprints
    with pytest.raises(HostKeyError, match="CHANGED") as info:
        record_host_key(known, "otherhost", key)
    assert fingerprint(other) in str(info.value) and fingerprint(key) in str(info.value)


def test_concurrent_records_write_each_host_once(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    keys = [paramiko.Ed25519Key.from_private_key(io.StringIO(_new_key(tmp_path, f"k{i}"))) for i in range(5)]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            record_host_key(known, f"host{i % 5}", keys[i % 5])
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    lines = known.read_text().splitlines()
    assert sorted(lines) == sorted(f"host{i} {k.get_name()} {k.get_base64()}" for i, k in enumerate(keys))
    assert oct(known.stat().st_mode & 0o777) == "0o600"


def test_payload_streams_a_file_in_chunks(tmp_path: Path) -> None:
    data = os.urandom(1_000_003)
    path = tmp_path / "blob"
    path.write_bytes(data)
    with open(path, "rb") as handle:
        handle.read(3)  # a payload starts where the file is
        p = Payload(handle)
        assert len(p) == len(data) - 3
        chunks = list(p.chunks(65536))
        assert max(len(c) for c in chunks) == 65536
        assert b"".join(chunks) == data[3:]
        import hashlib

        assert p.sha256() == hashlib.sha256(data[3:]).hexdigest()
    assert len(Payload(None)) == 0 and list(Payload(b"").chunks()) == []


def _new_key(tmp_path: Path, name: str) -> str:
    import subprocess

    path = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.read_text()


def test_record_hashed_like_hashknownhosts(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    key = paramiko.Ed25519Key.from_private_key(io.StringIO(_new_key(tmp_path, "k")))
    record_host_key(known, "[web1.example]:2222", key, hashed=True)
    text = known.read_text()
    assert text.startswith("|1|") and "web1.example" not in text
    assert paramiko.HostKeys(str(known)).lookup("[web1.example]:2222")[key.get_name()] == key
    record_host_key(known, "[web1.example]:2222", key, hashed=True)  # found although hashed: not added again
    assert known.read_text() == text
