"""The lab network: one bridge on this machine, a network namespace and veth link per host.

Hosts reach the machine (and the lab's package server on the bridge address) and each other,
never anything else: no NAT is set up, and if this machine forwards packets, a FORWARD rule
drops whatever comes from the bridge.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from hostprep.errors import HostprepError
from hostprep.lab import paths


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise HostprepError(f"ip {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


def link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def netns_exists(name: str) -> bool:
    return Path(f"/run/netns/{name}").exists()


def _forwarding_on() -> bool:
    try:
        return Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1"
    except OSError:
        return False


def _forward_rule(action: str) -> None:
    rule = ["FORWARD", "-i", paths.BRIDGE, "-j", "DROP"]
    probe = subprocess.run(["iptables", "-C", *rule], capture_output=True)
    if action == "add" and probe.returncode != 0:
        subprocess.run(["iptables", "-I", *rule], capture_output=True)
    elif action == "del" and probe.returncode == 0:
        subprocess.run(["iptables", "-D", *rule], capture_output=True)


def ensure_bridge() -> None:
    """Create the lab bridge with its address (idempotent)."""
    if not link_exists(paths.BRIDGE):
        _ip("link", "add", paths.BRIDGE, "type", "bridge")
        _ip("addr", "add", f"{paths.BRIDGE_ADDRESS}/{paths.PREFIX_LEN}", "dev", paths.BRIDGE)
    _ip("link", "set", paths.BRIDGE, "up")
    if _forwarding_on():
        _forward_rule("add")


def remove_bridge() -> None:
    """Remove the lab bridge (when the last host is gone)."""
    if link_exists(paths.BRIDGE):
        _ip("link", "del", paths.BRIDGE, check=False)
    _forward_rule("del")


def address_for(index: int) -> str:
    """Host address number `index` (1-based): 10.231.1.1, ... 10.231.1.254, 10.231.2.1, ..."""
    third, fourth = divmod(index - 1, 254)
    return f"10.231.{third + 1}.{fourth + 1}"


def create_host_link(netns: str, veth: str, address: str) -> None:
    """A netns with lo up and eth0 (peer of `veth` on the bridge) holding `address`."""
    _ip("netns", "add", netns)
    try:
        peer = veth + "p"
        _ip("link", "add", veth, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", netns)
        _ip("link", "set", veth, "master", paths.BRIDGE)
        _ip("link", "set", veth, "up")
        _ip("-n", netns, "link", "set", peer, "name", "eth0")
        _ip("-n", netns, "addr", "add", f"{address}/{paths.PREFIX_LEN}", "dev", "eth0")
        _ip("-n", netns, "link", "set", "eth0", "up")
        _ip("-n", netns, "link", "set", "lo", "up")
        _ip("-n", netns, "route", "add", "default", "via", paths.BRIDGE_ADDRESS)
        # nspawn mounts /proc/sys read-only in the host; dockerd needs forwarding on (it only checks it then)
        subprocess.run(["ip", "netns", "exec", netns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"],
                       capture_output=True, check=False)
    except HostprepError:
        delete_host_link(netns, veth)
        raise


def delete_host_link(netns: str, veth: str) -> None:
    """Remove a host's veth and netns (each by its own name)."""
    if link_exists(veth):
        _ip("link", "del", veth, check=False)
    if netns_exists(netns):
        _ip("netns", "del", netns, check=False)
