"""parse_facts on the facts script's output recorded on lab hosts (EL7, EL9 as root and as deploy) and on
a Debian 12 machine; the expected values are read off the recorded text by hand (see the data files, made by
scripts/capture_probes.py: addresses, host names and versions are what the hosts said at capture time)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hostprep.errors import TransportError
from hostprep.facts import facts_script, parse_facts

DATA = Path(__file__).parent / "data"


def facts(name: str) -> dict:
    return parse_facts((DATA / f"{name}.txt").read_text())


def test_el7_release_comes_from_redhat_release_like_ansible() -> None:
    f = facts("el7-root")
    assert (f["distribution"], f["os_family"]) == ("CentOS", "RedHat")
    assert (f["distribution_version"], f["distribution_major_version"]) == ("7.9.2009", "7")
    assert f["default_ipv4"]["address"] == "10.231.1.32" and f["default_ipv4"]["gateway"] == "10.231.0.1"
    assert f["all_ipv4_addresses"] == ["10.231.1.32"]
    assert f["service_mgr"] == "systemd"
    assert f["hostname"] == "capture-el7"  # the lab host capture_probes.py boots
    # Ansible's rule: a release before 8 with yum says yum, even though the lab's EL7 also has dnf
    assert f["pkg_mgr"] == "yum"


def test_el9_user_facts_follow_the_login_user() -> None:
    root, deploy = facts("el9-root"), facts("el9-deploy")
    assert (root["distribution_major_version"], root["pkg_mgr"]) == ("9", "dnf")
    assert (root["user_id"], root["user_uid"], root["user_dir"]) == ("root", 0, "/root")
    assert (deploy["user_id"], deploy["user_uid"], deploy["user_dir"]) == ("deploy", 1000, "/home/deploy")
    assert root["machine_id"] == deploy["machine_id"] and len(root["machine_id"]) == 32
    assert root["python"]["version"]["major"] == 3


def test_debian_version_is_the_point_release() -> None:
    f = facts("debian12-local")
    assert (f["distribution"], f["os_family"], f["pkg_mgr"]) == ("Debian", "Debian", "apt")
    assert (f["distribution_version"], f["distribution_major_version"]) == ("12.11", "12")
    assert f["distribution_release"] == "bookworm"


def test_mounts_and_memory_are_parsed() -> None:
    f = facts("el9-root")
    assert any(m["mount"] == "/" for m in f["mounts"])
    assert f["memtotal_mb"] > 1000 and f["processor_vcpus"] >= 1


def test_cut_output_is_an_error_not_half_the_facts() -> None:
    text = (DATA / "el9-root.txt").read_text()
    with pytest.raises(TransportError):
        parse_facts(text[: text.index("@@end")])


def test_the_script_still_prints_every_section_the_recordings_have() -> None:
    sections = {line for line in facts_script().splitlines() for line in [line] if "echo \"@@" in line}
    recorded = {line for line in (DATA / "el9-root.txt").read_text().splitlines() if line.startswith("@@")}
    for name in recorded:
        assert any(f'"{name}"' in s for s in sections), name


@pytest.mark.parametrize(("printed", "version"), [
    ("3.11.2", "3.11.2"),  # what the script printed before it asked `python -V`
    ("Python 3.9.18", "3.9.18"), ("Python 2.7.5", "2.7.5"), ("Python 3.13.0rc1", "3.13.0"),
])
def test_python_version_from_python_dash_v(printed: str, version: str) -> None:
    recorded = (DATA / "el7-root.txt").read_text()
    section = re.search(r"@@python\n(.*)\n(.*)\n", recorded)
    assert section, "no @@python section in the recording"
    text = recorded.replace(section.group(0), f"@@python\n{section.group(1)}\n{printed}\n", 1)
    assert text != recorded or section.group(2) == printed  # the version line really was replaced
    f = parse_facts(text)
    assert f["python_version"] == version
    assert f["python"]["version"]["major"] == int(version.split(".")[0])


def test_memory_mb_is_ansibles_shape() -> None:
    """memory_mb as Ansible's Linux hardware facts give it (kB // 1024 per /proc/meminfo value, then arithmetic):
    roles read memory_mb.swap.total (geerlingguy.swap) and memory_mb.real.total."""
    from hostprep.facts.gather import _memory_mb

    mem = {"MemTotal": 1000, "MemFree": 200, "Buffers": 50, "Cached": 300, "SwapTotal": 512, "SwapFree": 500,
           "SwapCached": 2}
    assert _memory_mb(mem) == {"real": {"total": 1000, "used": 800, "free": 200},
                               "nocache": {"free": 550, "used": 450},
                               "swap": {"total": 512, "free": 500, "used": 12, "cached": 2}}
    recorded = facts("el9-root")["memory_mb"]  # a recording made before Buffers/Cached were asked for
    assert recorded["real"]["total"] == facts("el9-root")["memtotal_mb"] and recorded["swap"]["total"] >= 0
