"""A Hop resolves a host as ssh_config says (as Fabric's Connection did), and paramiko comes without invoke.

Real ssh_config files parsed by paramiko; `Match exec` runs a real local command. Fabric (still installed as a
dependency) is the oracle for what hostprep's connections were before hop.py replaced them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hostprep.transport.hop import Hop, load_ssh_config, split_shorthand
from hostprep.transport.settings import DEFAULT_CONNECT_TIMEOUT

CONFIG = """\
Host web
  HostName 10.0.0.5
  User deploy
  Port 2222
  IdentityFile /k/web
  ConnectTimeout 7
Host *.example
  User ex
Match host *.example user ex
  Port 2200
Host *
  IdentityFile /k/all
"""


@pytest.fixture
def ssh_config(tmp_path: Path) -> Path:
    path = tmp_path / "ssh_config"
    path.write_text(CONFIG)
    return path


def test_host_user_port_keys_and_timeout_come_from_ssh_config(ssh_config: Path) -> None:
    config = load_ssh_config(str(ssh_config))
    web = Hop("web", ssh_config=config, connect_kwargs={"key_filename": ["/k/given"], "password": "pw"})
    assert (web.original_host, web.host, web.user, web.port, web.connect_timeout) == \
        ("web", "10.0.0.5", "deploy", 2222, 7)
    assert web.connect_kwargs == {"key_filename": ["/k/given", "/k/web", "/k/all"], "password": "pw"}
    # what the caller says wins over ssh_config
    web = Hop("web", ssh_config=config, user="root", port=22, connect_timeout=3)
    assert (web.user, web.port, web.connect_timeout) == ("root", 22, 3)
    # Match: decided on what the lookup found so far
    assert Hop("a.other", ssh_config=config).port == 22
    other = Hop("a.example", ssh_config=config)
    assert (other.user, other.port, other.host) == ("ex", 2200, "a.example")
    assert Hop("plain", ssh_config=config).connect_timeout == int(DEFAULT_CONNECT_TIMEOUT)
    assert not other.is_connected and other.transport is None


def test_the_same_as_fabric_connection(ssh_config: Path) -> None:
    from fabric import Config, Connection

    path = ssh_config
    fab = Config(overrides={"load_ssh_configs": True, "ssh_config_path": str(path),
                            "timeouts": {"connect": int(DEFAULT_CONNECT_TIMEOUT)}})
    cases = [("web", {}), ("web", {"user": "u", "port": 2}), ("x.example", {}), ("plain", {"connect_timeout": 4}),
             ("me@h1:2022", {}), ("fe80::1", {})]
    for host, kw in cases:
        theirs = Connection(host, config=fab, gateway=False, connect_kwargs={"key_filename": ["/k/g"]}, **kw)
        ours = Hop(host, ssh_config=load_ssh_config(str(path)), connect_kwargs={"key_filename": ["/k/g"]}, **kw)
        assert (ours.original_host, ours.host, ours.user, ours.port, ours.connect_timeout, ours.connect_kwargs,
                dict(ours.ssh_config)) == \
            (theirs.original_host, theirs.host, theirs.user, theirs.port, theirs.connect_timeout,
             theirs.connect_kwargs, dict(theirs.ssh_config)), host


def test_shorthand() -> None:
    assert split_shorthand("h") == (None, "h", None)
    assert split_shorthand("me@h:2022") == ("me", "h", 2022)
    assert split_shorthand("a@b@h") == ("a@b", "h", None)
    assert split_shorthand("fe80::1") == (None, "fe80::1", None)
    with pytest.raises(ValueError, match="user given twice"):
        Hop("me@h", ssh_config=load_ssh_config("/nonexistent"), user="you")


def test_a_changed_ssh_config_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("Host a\n  Port 1\n")
    assert Hop("a", ssh_config=load_ssh_config(str(path))).port == 1
    assert load_ssh_config(str(path)) is load_ssh_config(str(path))  # parsed once
    path.write_text("Host a\n  Port 2222\n")
    assert Hop("a", ssh_config=load_ssh_config(str(path))).port == 2222


def test_the_ssh_transport_loads_paramiko_without_invoke_until_a_match_exec(tmp_path: Path) -> None:
    """invoke (with unittest.mock and asyncio) is a fifth of a run's start-up: only `Match exec` needs it."""
    marker = tmp_path / "marker"
    (tmp_path / "config").write_text(f'Match exec "test -e {marker}"\n  Port 2201\n')
    code = textwrap.dedent(f"""
        import pathlib, sys
        import hostprep.transport.ssh
        from hostprep.transport.hop import Hop, load_ssh_config
        assert "paramiko" in sys.modules
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("invoke", "fabric", "unittest", "asyncio"))
        assert loaded == [], loaded
        config = load_ssh_config({str(tmp_path / 'config')!r})
        assert Hop("h", ssh_config=config).port == 22  # the command ran (invoke loaded for it) and said no
        assert "invoke" in sys.modules
        pathlib.Path({str(marker)!r}).touch()
        assert Hop("h", ssh_config=config).port == 2201
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
