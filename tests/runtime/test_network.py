"""Bridge networks, published ports and name resolution of hostprep-runtime, as root, on this machine.

"Another host" is a network namespace this module makes (its own veth and addresses): a client there reaches a
published port through the machine's address as a client on another machine would. Every network, bridge,
namespace and rule a test makes has a name unique to the run and is removed (the checks below see to it).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from hostprep.runtime import network
from tests.runtime.support import runtime_argv

# an HTTP GET from inside a container (busybox's nc: Debian's static busybox wget crashes)
_GET = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {} {}"


def _sh(*argv: str, check: bool = True, timeout: int = 30) -> subprocess.CompletedProcess:
    res = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if check:
        assert res.returncode == 0, f"{argv}: {res.stderr}"
    return res


@pytest.fixture(scope="module")
def other_host():
    """A network namespace with a veth to this machine: (namespace, the machine's address on that link, the
    namespace's address)."""
    tag = uuid.uuid4().hex[:6]
    ns, host_if, peer_if = f"hn{tag}", f"hnh{tag}", f"hnp{tag}"
    octet = int(tag[:2], 16)
    host_addr, peer_addr = f"198.18.{octet}.1", f"198.18.{octet}.2"
    _sh("ip", "netns", "add", ns)
    try:
        _sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", peer_if, "netns", ns)
        _sh("ip", "addr", "add", host_addr + "/30", "dev", host_if)
        _sh("ip", "link", "set", host_if, "up")
        for cmd in (["addr", "add", peer_addr + "/30", "dev", peer_if], ["link", "set", peer_if, "up"],
                    ["link", "set", "lo", "up"], ["route", "add", "default", "via", host_addr]):
            _sh("ip", "-n", ns, *cmd)
        yield ns, host_addr, peer_addr
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture(scope="module", autouse=True)
def _networks_removed(rt):
    """The networks of this module's state root (its default `bridge` too) go with it: bridge, rules, files."""
    yield
    for net in network.list_networks(str(rt.state)):
        network.teardown(net)
    leftover = [n["bridge"] for n in network.list_networks(str(rt.state))
                if os.path.exists("/sys/class/net/" + n["bridge"])]
    assert leftover == [], leftover


def _run(rt, *args: str, backend: str | None = None, timeout: int = 60) -> subprocess.CompletedProcess:
    env = dict(rt.env)
    if backend:
        env["HOSTPREP_RUNTIME_FIREWALL"] = backend
    return subprocess.run(runtime_argv(rt, *args), capture_output=True, text=True, env=env, timeout=timeout)


def _ok(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def _fetch(url: str, ns: str | None = None, timeout: int = 5) -> str:
    """The body at `url`, from this machine or from the namespace `ns`; "FAILED ..." if it never answered."""
    code = ("import sys, urllib.request; "
            "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())")
    argv = ([] if ns is None else ["ip", "netns", "exec", ns]) + [sys.executable, "-c", code, url]
    deadline = time.monotonic() + timeout
    while True:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        if res.returncode == 0 or time.monotonic() > deadline:
            return res.stdout if res.returncode == 0 else f"FAILED {res.stderr[-200:]}"
        time.sleep(0.1)


def _state(rt, name: str) -> dict:
    state = json.loads(_ok(_run(rt, "inspect", name)))
    return state[0] if isinstance(state, list) else state


def _www(tmp: Path, text: str) -> Path:
    www = tmp / "www"
    www.mkdir(exist_ok=True)
    (www / "index.html").write_text(text)
    return www


def _rules_mention(backend: str, cid: str, port: int) -> list[str]:
    """The packet rules that still name this container or its host port."""
    if backend == "nft":
        res = subprocess.run(["nft", "list", "table", "ip", network.firewall.TABLE], capture_output=True, text=True)
        return [line for line in res.stdout.splitlines() if f"{port} :" in line or f"{port}:" in line]
    res = subprocess.run(["iptables", "-w", "-t", "nat", "-S"], capture_output=True, text=True)
    return [line for line in res.stdout.splitlines() if cid in line or f"--dport {port} " in line]


def _leftovers(rt, cid: str) -> list[str]:
    """Addresses, host-port claims, /etc files and veths a container still holds."""
    out = []
    nets = Path(rt.state) / "networks"
    for held in nets.glob("*.ipam/*"):
        if cid in held.read_text():
            out.append(str(held))
    for claim in (nets / "ports").glob("*"):
        if claim.read_text().strip() == cid:
            out.append(str(claim))
    if (nets / "files" / cid).exists():
        out.append(str(nets / "files" / cid))
    if os.path.exists("/sys/class/net/vhp" + cid[:12]):
        out.append("veth vhp" + cid[:12])
    return out


def test_default_bridge_gives_an_address_a_route_hosts_and_resolv_conf(rt) -> None:
    out = _ok(_run(rt, "run", "--rm", "--network", "bridge", "--add-host", "db:10.1.2.3",
                   "--add-host", "gw:host-gateway", "--dns", "192.0.2.53", "--hostname", "box", "bb", "sh", "-c",
                   "ip -4 -o addr show eth0; ip route; echo ---; cat /etc/hosts; echo ---; cat /etc/resolv.conf; "
                   "echo ---; nc -w 3 $(ip route | sed -n 's/default via //p' | cut -d' ' -f1) 1 2>&1; true"))
    net = json.loads(_ok(_run(rt, "network", "inspect", "bridge")))[0]
    subnet, gateway = net["IPAM"]["Config"][0]["Subnet"], net["IPAM"]["Config"][0]["Gateway"]
    addr = out.split("inet ")[1].split("/")[0]
    assert network.ip_int(addr) >> 8 == network.parse_cidr(subnet)[0] >> 8, out
    assert f"default via {gateway} dev eth0" in out, out
    addr_part, hosts, resolv, _ = out.split("---\n")
    assert f"{addr}\tbox" in hosts and "10.1.2.3\tdb" in hosts and f"{gateway}\tgw" in hosts, hosts
    assert resolv.splitlines()[0] == "nameserver 192.0.2.53", resolv
    # the gateway answered (connection refused on port 1), so the veth and the route work
    assert "refused" in out.rsplit("---", 1)[1].lower(), out
    assert net["Containers"] == {}, net
    # its subnet collides with no route of the host (Docker's docker0, the lab's bridges, ...)
    value, prefix = network.parse_cidr(subnet)
    others = [r for r in network.host_routes() if not (r[0] == value and r[1] == prefix)]
    assert not any(network._overlaps(value, prefix, *r) for r in others), (subnet, others)


@pytest.mark.parametrize("backend", ["iptables", "nft"])
def test_published_port_from_localhost_another_host_and_a_container(rt, other_host, backend: str,
                                                                   tmp_path: Path) -> None:
    ns, host_addr, _ = other_host
    port = _free_port()
    www = _www(tmp_path, f"served-{backend}")
    name = f"hn-{backend}-{uuid.uuid4().hex[:6]}"  # a network of its own: made (and so ruled) by `backend`
    _ok(_run(rt, "network", "create", name, backend=backend))
    cid = None
    try:
        cid = _ok(_run(rt, "run", "-d", "--network", name, "-p", f"{port}:80", "-v", f"{www}:/www", "bb", "httpd",
                       "-f", "-p", "80", "-h", "/www")).strip()
        assert _rules_mention(backend, cid, port), "no DNAT rule for the published port"
        assert _fetch(f"http://127.0.0.1:{port}/") == f"served-{backend}"
        assert _fetch(f"http://{host_addr}:{port}/") == f"served-{backend}"  # the machine's address, locally
        assert _fetch(f"http://{host_addr}:{port}/", ns=ns) == f"served-{backend}"  # from another host
        hairpin = _ok(_run(rt, "run", "--rm", "--network", name, "bb", "sh", "-c", _GET.format(host_addr, port)))
        assert hairpin.endswith(f"\n\nserved-{backend}"), hairpin
        assert _ok(_run(rt, "port", cid)).strip() == f"80/tcp -> 0.0.0.0:{port}"
        assert _state(rt, cid)["NetworkSettings"]["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0",
                                                                          "HostPort": str(port)}]}
    finally:
        if cid:
            _ok(_run(rt, "rm", "-f", cid))
        _ok(_run(rt, "network", "rm", name))
    assert _rules_mention(backend, cid, port) == []
    assert _leftovers(rt, cid) == []
    assert _fetch(f"http://127.0.0.1:{port}/", timeout=0).startswith("FAILED")


def test_random_host_port_a_host_address_and_a_port_held_by_another(rt, tmp_path: Path) -> None:
    www = _www(tmp_path, "random")
    cid = _ok(_run(rt, "run", "-d", "-p", "80", "-p", "127.0.0.1::80/tcp", "-v", f"{www}:/www", "bb", "httpd",
                   "-f", "-p", "80", "-h", "/www")).strip()
    try:
        lines = _ok(_run(rt, "port", cid)).split()
        any_port = int([x for x in lines if x.startswith("0.0.0.0:")][0].split(":")[1])
        local_port = int([x for x in lines if x.startswith("127.0.0.1:")][0].split(":")[1])
        assert any_port != local_port and any_port > 1024
        assert _fetch(f"http://127.0.0.1:{any_port}/") == "random"
        assert _fetch(f"http://127.0.0.1:{local_port}/") == "random"
        taken = _run(rt, "run", "--rm", "-p", f"{any_port}:80", "bb", "true")
        assert taken.returncode != 0 and "already allocated" in taken.stderr, taken.stderr
    finally:
        _ok(_run(rt, "rm", "-f", cid))
    with socket.socket() as listener:  # a port a program of the host listens on is refused
        listener.bind(("", 0))
        listener.listen(1)
        busy = _run(rt, "run", "--rm", "-p", f"{listener.getsockname()[1]}:80", "bb", "true")
        assert busy.returncode != 0 and "in use on the host" in busy.stderr, busy.stderr
    bad = _run(rt, "run", "--rm", "-p", "1:2:3:4", "bb", "true")
    assert bad.returncode != 0 and "-p 1:2:3:4" in bad.stderr
    assert _leftovers(rt, cid) == []


def test_user_network_members_reach_each_other_by_name_and_alias(rt, tmp_path: Path) -> None:
    name = "hn-" + uuid.uuid4().hex[:8]
    created = _ok(_run(rt, "network", "create", name)).strip()
    try:
        net = json.loads(_ok(_run(rt, "network", "inspect", name)))[0]
        assert net["Id"] == created and net["Driver"] == "bridge"
        assert name in _ok(_run(rt, "network", "ls"))
        www = _www(tmp_path, "from-a")
        a = _ok(_run(rt, "run", "-d", "--network", name, "--name", f"{name}-a", "--network-alias", "svc",
                     "-v", f"{www}:/www", "bb", "httpd", "-f", "-p", "80", "-h", "/www")).strip()
        b = _ok(_run(rt, "run", "-d", "--network", name, "--name", f"{name}-b", "bb", "sleep", "60")).strip()
        for host in (f"{name}-a", "svc", a[:12]):
            got = _ok(_run(rt, "exec", b, "sh", "-c", _GET.format(host, 80)))
            assert got.endswith("\n\nfrom-a"), (host, got)
        assert f"{name}-b" in _ok(_run(rt, "exec", a, "cat", "/etc/hosts"))  # a learnt of b, which came later
        refused = _run(rt, "network", "rm", name)
        assert refused.returncode != 0 and "active endpoints" in refused.stderr
        _ok(_run(rt, "rm", "-f", a))
        assert f"{name}-a" not in _ok(_run(rt, "exec", b, "cat", "/etc/hosts"))  # gone from b's hosts
        _ok(_run(rt, "rm", "-f", b))
        assert _leftovers(rt, a) == [] and _leftovers(rt, b) == []
    finally:
        for c in (f"{name}-a", f"{name}-b"):
            _run(rt, "rm", "-f", c)
        _run(rt, "network", "rm", name)
    assert name not in _ok(_run(rt, "network", "ls"))
    assert not os.path.exists("/sys/class/net/" + net["Options"]["com.docker.network.bridge.name"])


def test_a_dead_supervisor_leaves_no_rule_address_or_link(rt, tmp_path: Path) -> None:
    port = _free_port()
    cid = _ok(_run(rt, "run", "-d", "-p", f"{port}:80", "bb", "sleep", "60")).strip()
    state = _state(rt, cid)
    backend = state["net"]["firewall"]
    assert _rules_mention(backend, cid, port) and _leftovers(rt, cid)
    os.kill(state["monitor_pid"], 9)  # PID 1 dies with it (PR_SET_PDEATHSIG)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{state['pid1']}") and time.monotonic() < deadline:
        time.sleep(0.05)
    _ok(_run(rt, "ps", "-a"))  # the first command that sees the leftover cleans it
    assert _rules_mention(backend, cid, port) == []
    assert _leftovers(rt, cid) == []
    _ok(_run(rt, "rm", "-f", cid))


def test_resolv_conf_never_names_a_loopback_stub(tmp_path: Path) -> None:
    stub = tmp_path / "resolv.conf"
    stub.write_text("nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lab.example\n")
    upstream = tmp_path / "upstream.conf"
    upstream.write_text("nameserver 192.0.2.10\nnameserver 127.0.0.1\n")
    assert network.resolv_conf(host_file=str(stub), stub_upstream=str(upstream)) == (
        "nameserver 192.0.2.10\nsearch lab.example\noptions edns0\n")
    assert network.resolv_conf(host_file=str(stub), stub_upstream=str(tmp_path / "none")).startswith(
        "nameserver 8.8.8.8\nnameserver 8.8.4.4\n")
    mixed = tmp_path / "mixed.conf"
    mixed.write_text("nameserver 127.0.0.1\nnameserver 192.0.2.20\n")
    assert network.resolv_conf(host_file=str(mixed)) == "nameserver 192.0.2.20\n"
    assert network.resolv_conf(["192.0.2.1"], ["a.example"], ["ndots:2"], host_file=str(mixed)) == (
        "nameserver 192.0.2.1\nsearch a.example\noptions ndots:2\n")


def test_after_a_reboot_system_boot_rebuilds_bridge_rules_and_ports(rt, tmp_path: Path) -> None:
    """A reboot as the runtime sees one: supervisor and container gone, the bridge and every rule gone; then
    hostprep-runtime.service's `system boot` starts the container again and its published port answers."""
    port = _free_port()
    www = _www(tmp_path, "after-boot")
    name = "hn-boot-" + uuid.uuid4().hex[:6]
    cid = _ok(_run(rt, "run", "-d", "--restart", "always", "--name", name, "-p", f"{port}:80", "-v", f"{www}:/www",
                   "bb", "httpd", "-f", "-p", "80", "-h", "/www")).strip()
    try:
        assert _fetch(f"http://127.0.0.1:{port}/") == "after-boot"
        state = _state(rt, cid)
        backend, bridge = state["net"]["firewall"], state["net"]["bridge"]
        os.kill(state["monitor_pid"], 9)
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{state['pid1']}") and time.monotonic() < deadline:
            time.sleep(0.05)
        net = network.load(str(rt.state), state["net"]["network"])
        network.teardown(net)  # what a reboot takes: the bridge and the network's rules
        network.firewall.by_name(backend).remove_ports(cid, state["net"]["ports"])
        assert not os.path.exists("/sys/class/net/" + bridge) and _rules_mention(backend, cid, port) == []
        assert "started " + name in _ok(_run(rt, "system", "boot"))
        assert _fetch(f"http://127.0.0.1:{port}/") == "after-boot"
        assert os.path.exists("/sys/class/net/" + bridge) and _rules_mention(backend, cid, port)
    finally:
        _run(rt, "rm", "-f", cid)
    assert _leftovers(rt, cid) == [] and _rules_mention(backend, cid, port) == []


def test_publish_all_takes_every_exposed_port(rt, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM bb\nEXPOSE 80 53/udp\n")
    _ok(_run(rt, "build", "-t", "hn-exposed", str(ctx)))
    www = _www(tmp_path, "exposed")
    cid = _ok(_run(rt, "run", "-d", "-P", "-v", f"{www}:/www", "hn-exposed", "httpd", "-f", "-p", "80", "-h",
                   "/www")).strip()
    try:
        ports = dict(line.split(" -> ") for line in _ok(_run(rt, "port", cid)).splitlines())
        assert sorted(ports) == ["53/udp", "80/tcp"], ports
        assert _fetch("http://127.0.0.1:{}/".format(ports["80/tcp"].split(":")[1])) == "exposed"
    finally:
        _ok(_run(rt, "rm", "-f", cid))
    assert _leftovers(rt, cid) == []


def test_nat_out_and_an_internal_network_that_forwards_nothing(rt, other_host, tmp_path: Path) -> None:
    ns, _, peer_addr = other_host
    www = _www(tmp_path, "outside")
    server = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "http.server", "8000", "--bind",
                               peer_addr, "--directory", str(www)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    name = "hn-int-" + uuid.uuid4().hex[:6]
    try:
        assert _fetch(f"http://{peer_addr}:8000/", timeout=30) == "outside"  # routed from the machine
        out = _ok(_run(rt, "run", "--rm", "--network", "bridge", "bb", "sh", "-c", _GET.format(peer_addr, 8000)))
        assert out.endswith("\n\noutside"), out  # NAT out of the default network
        _ok(_run(rt, "network", "create", "--internal", name))
        res = _run(rt, "run", "--rm", "--network", name, "bb", "sh", "-c", _GET.format(peer_addr, 8000))
        assert "outside" not in res.stdout, res.stdout
    finally:
        server.kill()
        server.wait()
        _run(rt, "network", "rm", name)
