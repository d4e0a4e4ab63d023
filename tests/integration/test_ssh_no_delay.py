"""The SSH transport sends its packets at once (TCP_NODELAY): each command of a run opens a new session channel,
and with Nagle's algorithm the channel-open waited for the host's delayed ACK (about 30-40 ms a command, more
than a probe batch takes on a lab host; loopback acknowledges at once, so only the option is checked here).
Against a real sshd on loopback."""

from __future__ import annotations

import socket

import pytest

from hostprep.transport.connect import open_transport
from tests.integration.loopback_sshd import LoopbackSshd, running_sshd


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory):
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


def test_the_connection_sends_its_packets_without_delay(sshd: LoopbackSshd) -> None:
    t = open_transport("lo", sshd.hostvars())
    try:
        assert t.run("true").rc == 0
        transport = t.link.conn.client.get_transport()
        assert transport.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert t.run("echo again").stdout == "again\n"
    finally:
        t.close()

