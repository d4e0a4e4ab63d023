"""Bridge networks of hostprep-runtime: the default network `bridge`, user-defined ones (`network create`),
a veth and an address per container, NAT out, published ports (portmap.py, firewall.py), /etc/hosts and
/etc/resolv.conf.

On disk, under `<root>/networks/` (one lock file serialises every change):
- `<name>.json`: the network (bridge name, subnet, gateway, internal);
- `<name>.ipam/<address>`: an address held by a container, with what its peers need for their /etc/hosts
  (id, name, hostname, aliases). Created with O_EXCL: two containers never get one address.
- `ports/<proto>-<port>`: a host port held by a container (portmap.py).

The bridge and the network's rules are made when the first container joins after a boot (or a firewall
reset that took the bridge); a container's veth lives in its network namespace and goes with it.

The container's network namespace is made by its supervisor right before PID 1 is forked (as the PID
namespace is), so PID 1 is born in it; the supervisor adds the veth, the address and the route while PID 1
waits for its go-ahead, so the command starts with its network up.

Name resolution on a user-defined network: every member's /etc/hosts is a bind mount of a file the runtime
keeps in the container's directory, rewritten in place when a member comes or goes (names, --network-alias,
the short id). The default `bridge` network, as Docker's, gives no names but the container's own.
"""

import fcntl
import os
import time

from hostprep.runtime import firewall, jsonio, netexec, portmap
from hostprep.runtime.errors import RunError
from hostprep.runtime.linux import trace

DEFAULT = "bridge"
DEFAULT_ROOT = "/var/lib/hostprep-runtime"
# candidate subnets: 10.213.0.0/24 ... 10.220.255.0/24 (not Docker's 172.17-31 or 192.168, not podman's 10.88/10.89)
POOL = [(10 << 24) | (b << 16) | (c << 8) for b in range(213, 221) for c in range(256)]
FALLBACK_DNS = ["8.8.8.8", "8.8.4.4"]  # Docker's, when the host has no resolver a container can reach
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


# --- addresses -----------------------------------------------------------------------------------------------

def ip_int(text):
    parts = [int(p) for p in text.split(".")]
    if len(parts) != 4 or any(not 0 <= p < 256 for p in parts):
        raise ValueError(text)
    return (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]


def ip_text(value):
    return ".".join(str((value >> s) & 255) for s in (24, 16, 8, 0))


def parse_cidr(text):
    addr, _, prefix = text.partition("/")
    try:
        prefix = int(prefix)
        value = ip_int(addr)
    except ValueError:
        raise RunError("invalid subnet {!r}: use A.B.C.D/PREFIX".format(text))
    if not 8 <= prefix <= 30:
        raise RunError("invalid subnet {!r}: the prefix must be 8-30".format(text))
    mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    return value & mask, prefix


def _overlaps(a, alen, b, blen):
    p = min(alen, blen)
    mask = (0xFFFFFFFF << (32 - p)) & 0xFFFFFFFF if p else 0
    return (a & mask) == (b & mask)


def host_routes():
    """(network, prefix) of every IPv4 route of the host's main table (connected ones cover its addresses)."""
    out = []
    try:
        with open("/proc/net/route") as handle:
            lines = handle.read().splitlines()[1:]
    except OSError:
        return out
    for line in lines:
        f = line.split()
        if len(f) < 8:
            continue
        dest = int.from_bytes(bytes.fromhex(f[1]), "little")
        mask = int.from_bytes(bytes.fromhex(f[7]), "little")
        if mask == 0:
            continue  # the default route overlaps everything
        out.append((dest, bin(mask).count("1")))
    return out


# --- the networks --------------------------------------------------------------------------------------------

def networks_dir(root):
    path = os.path.join(root, "networks")
    os.makedirs(path, exist_ok=True)
    return path


class _Lock:
    def __init__(self, root):
        self.path = os.path.join(networks_dir(root), ".lock")

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def _path(root, name):
    return os.path.join(networks_dir(root), name + ".json")


def load(root, name):
    try:
        with open(_path(root, name), "rb") as handle:
            return jsonio.loads(handle.read())
    except FileNotFoundError:
        return None


def list_networks(root):
    out = []
    for entry in sorted(os.listdir(networks_dir(root))):
        if entry.endswith(".json"):
            net = load(root, entry[:-5])
            if net:
                out.append(net)
    return out


def _save(root, net):
    tmp = _path(root, net["name"]) + ".tmp"
    with open(tmp, "w") as handle:
        handle.write(jsonio.dumps(net))
    os.replace(tmp, _path(root, net["name"]))


def _choose_subnet(root):
    taken = host_routes() + [parse_cidr(n["subnet"]) for n in list_networks(root)]
    for candidate in POOL:
        if not any(_overlaps(candidate, 24, net, prefix) for net, prefix in taken):
            return "{}/24".format(ip_text(candidate))
    raise RunError("no free subnet left for a new network: give one with --subnet")


def _bridge_name(root, name, nid):
    if name == DEFAULT and os.path.abspath(root) == DEFAULT_ROOT:
        return "hprt0"
    return "hprt" + nid[:10]  # 14 characters: IFNAMSIZ is 16 with the NUL


def _create_locked(root, name, subnet=None, gateway=None, internal=False):
    if load(root, name) is not None:
        raise RunError("network with name {} already exists".format(name))
    if name in ("none", "host") or not name or not set(name) <= _NAME_CHARS or name.startswith((".", "-")):
        raise RunError("invalid network name {!r}".format(name))
    nid = os.urandom(32).hex()
    if subnet:
        value, prefix = parse_cidr(subnet)
        for other in list_networks(root):
            if _overlaps(value, prefix, *parse_cidr(other["subnet"])):
                raise RunError("subnet {} overlaps network {} ({})".format(subnet, other["name"], other["subnet"]))
        subnet = "{}/{}".format(ip_text(value), prefix)
    else:
        subnet = _choose_subnet(root)
    value, prefix = parse_cidr(subnet)
    if gateway:
        try:
            gw = ip_int(gateway)
        except ValueError:
            raise RunError("invalid gateway {!r}".format(gateway))
        if not _overlaps(gw, 32, value, prefix):
            raise RunError("gateway {} is not in subnet {}".format(gateway, subnet))
    else:
        gateway = ip_text(value + 1)
    net = {"name": name, "id": nid, "driver": "bridge", "bridge": _bridge_name(root, name, nid), "subnet": subnet,
           "gateway": gateway, "internal": bool(internal), "created": time.time(), "firewall": firewall.backend().name}
    os.makedirs(_ipam_dir(root, name), exist_ok=True)
    _save(root, net)
    return net


def create(root, name, subnet=None, gateway=None, internal=False):
    with _Lock(root):
        return _create_locked(root, name, subnet, gateway, internal)


def get(root, name):
    """The network `name`; the default `bridge` network is made on first use."""
    net = load(root, name)
    if net is None and name == DEFAULT:
        with _Lock(root):
            net = load(root, name) or _create_locked(root, name)
    if net is None:
        raise RunError("network {} not found".format(name))
    return net


def find(root, ref):
    """A network by name, full id or unique id prefix (as `network inspect/rm` take it)."""
    net = load(root, ref)
    if net:
        return net
    hits = [n for n in list_networks(root) if ref and n["id"].startswith(ref)]
    if len(hits) == 1:
        return hits[0]
    raise RunError("network {} not found".format(ref) if not hits else "network {} is ambiguous".format(ref))


def members(root, net):
    out = []
    d = _ipam_dir(root, net["name"])
    try:
        names = sorted(os.listdir(d))
    except FileNotFoundError:
        return out
    for entry in names:
        try:
            with open(os.path.join(d, entry), "rb") as handle:
                out.append(jsonio.loads(handle.read()))
        except (OSError, ValueError):
            continue
    return out


def remove(root, ref):
    with _Lock(root):
        net = find(root, ref)
        if net["name"] == DEFAULT:
            raise RunError("bridge is a pre-defined network and cannot be removed")
        _sweep(root, net)
        users = members(root, net)
        if users:
            raise RunError("error while removing network: network {} has active endpoints ({})".format(
                net["name"], ", ".join(m["name"] for m in users)))
        teardown(net)
        try:
            os.rmdir(_ipam_dir(root, net["name"]))
        except OSError:
            pass
        os.unlink(_path(root, net["name"]))
        return net


def teardown(net):
    """The network's bridge and rules (network rm; tests, whose state roots go away)."""
    firewall.by_name(net.get("firewall")).remove_network(net)
    if link_exists(net["bridge"]):
        netexec.run(["ip", "link", "del", net["bridge"]], check=False)


def prune(root):
    """Remove every user-defined network no container uses; returns their names."""
    gone = []
    for net in list_networks(root):
        if net["name"] == DEFAULT:
            continue
        try:
            remove(root, net["name"])
            gone.append(net["name"])
        except RunError:
            continue
    return gone


def link_exists(name):
    """Is there a network interface `name` in this process's network namespace? (/proc/net follows the reader's
    namespace; /sys/class/net shows the one sysfs was mounted in, which in a container host can be another.)"""
    try:
        with open("/proc/net/dev") as handle:
            lines = handle.read().splitlines()[2:]
    except OSError:
        return False
    return any(line.split(":", 1)[0].strip() == name for line in lines)


def ensure_bridge(net):
    """The network's bridge, address and rules, made if the bridge is missing (first use, after a boot)."""
    bridge = net["bridge"]
    if link_exists(bridge):
        return False
    prefix = net["subnet"].split("/")[1]
    netexec.run(["ip", "-batch", "-"], data="link add {b} type bridge\naddr add {g}/{p} dev {b}\nlink set {b} up\n"
                .format(b=bridge, g=net["gateway"], p=prefix))
    netexec.write_sysctl("/proc/sys/net/ipv4/conf/{}/route_localnet".format(bridge), "1")  # -p from localhost
    netexec.write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")
    firewall.by_name(net.get("firewall")).add_network(net)
    return True


# --- addresses of containers ---------------------------------------------------------------------------------

def _ipam_dir(root, name):
    return os.path.join(networks_dir(root), name + ".ipam")


def _allocate(root, net, record, wanted=None):
    d = _ipam_dir(root, net["name"])
    os.makedirs(d, exist_ok=True)
    value, prefix = parse_cidr(net["subnet"])
    gateway = ip_int(net["gateway"])
    candidates = [ip_int(wanted)] if wanted else range(value + 1, value + (1 << (32 - prefix)) - 1)
    for addr in candidates:
        if addr == gateway:
            continue
        text = ip_text(addr)
        path = os.path.join(d, text)
        for _ in range(2):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                if _stale_member(root, path, record["id"]):
                    continue
                break
            record["ip"] = text
            os.write(fd, jsonio.dumps(record).encode())
            os.close(fd)
            return text
    raise RunError("no free address in network {} ({})".format(net["name"], net["subnet"]) if not wanted else
                   "address {} is in use in network {}".format(wanted, net["name"]))


def _stale_member(root, path, mine=None):
    """An address held by a container that no longer exists (or by `mine`, started again after a boot): freed."""
    try:
        with open(path, "rb") as handle:
            owner = jsonio.loads(handle.read()).get("id")
    except (OSError, ValueError):
        owner = None
    return portmap.free_orphan(root, path, owner, mine)


def _sweep(root, net):
    d = _ipam_dir(root, net["name"])
    try:
        for entry in os.listdir(d):
            _stale_member(root, os.path.join(d, entry))
    except FileNotFoundError:
        pass


# --- a container on a network --------------------------------------------------------------------------------

def options(opts, image_config):
    """The network part of a container's spec, from the run options; None without a network namespace of the
    runtime's making (--network none or host)."""
    name = opts.network or "none"
    publish = list(getattr(opts, "publish", None) or [])
    publish_all = bool(getattr(opts, "publish_all", False))
    if name == "none" and (publish or publish_all) and not getattr(opts, "network_given", False):
        name = DEFAULT  # Docker's default network: -p alone means the bridge
    if name in ("none", "host"):
        if publish or publish_all:
            raise RunError("published ports need a bridge network (--network {} has none)".format(name))
        for opt in ("network_alias",):
            if getattr(opts, opt, None):
                raise RunError("--network-alias needs a user-defined network")
        return None
    ports = []
    for text in publish:
        ports.extend(portmap.parse(text))
    if publish_all:
        ports.extend(portmap.exposed(image_config))
    aliases = list(getattr(opts, "network_alias", None) or [])
    if aliases and name == DEFAULT:
        raise RunError("network-scoped aliases are only supported for user-defined networks")
    return {"network": name, "ports": ports, "aliases": aliases, "dns": list(getattr(opts, "dns", None) or []),
            "dns_search": list(getattr(opts, "dns_search", None) or []),
            "dns_option": list(getattr(opts, "dns_option", None) or []),
            "add_hosts": [_parse_add_host(h) for h in getattr(opts, "add_host", None) or []],
            "ip": getattr(opts, "ip", None)}


def _parse_add_host(text):
    name, sep, addr = text.partition(":")
    if not sep:
        name, sep, addr = text.partition("=")
    if not sep or not name or not addr:
        raise RunError("invalid --add-host {!r}: use NAME:IP".format(text))
    if addr != "host-gateway":
        try:
            ip_int(addr)
        except ValueError:
            if ":" not in addr:
                raise RunError("invalid IP address in --add-host {!r}".format(text))
    return [name, addr]


def attach(root, spec, state, pid):
    """Put PID 1's network namespace (made by the supervisor) on its network: veth, address, route, ports,
    /etc/hosts and /etc/resolv.conf. Records what was done in state["net"] (detach undoes it)."""
    opts = spec["net"]
    cid = spec["id"]
    record = {"id": cid, "name": state["name"], "hostname": spec["hostname"], "aliases": opts["aliases"]}
    veth = "vhp" + cid[:12]
    done = {"network": opts["network"], "veth": veth, "ports": [], "ip": None}
    state["net"] = done
    try:
        with _Lock(root):
            net = load(root, opts["network"])
            if net is None and opts["network"] == DEFAULT:
                net = _create_locked(root, DEFAULT)
            if net is None:
                raise RunError("network {} not found".format(opts["network"]))
            ensure_bridge(net)
            done.update(ip=_allocate(root, net, record, opts.get("ip")), bridge=net["bridge"], gateway=net["gateway"],
                        subnet=net["subnet"], network_id=net["id"],
                        firewall=net.get("firewall"))
            user_defined = net["name"] != DEFAULT
            _write_etc(root, spec, net, dict(record, ip=done["ip"]), opts, user_defined)
            if user_defined:
                _refresh_peers(root, net, skip=cid)
        trace("net address")
        prefix = net["subnet"].split("/")[1]
        netexec.run(["ip", "-batch", "-"], data="link add {v} type veth peer name eth0 netns {pid}\n"
                    "link set {v} master {b}\nlink set {v} up\n".format(v=veth, pid=pid, b=net["bridge"]))
        netexec.run(["ip", "-batch", "-"], netns="/proc/{}/ns/net".format(pid),
                    data="addr add {ip}/{p} dev eth0\nlink set eth0 up\nroute add default via {g}\n".format(
                        ip=done["ip"], p=prefix, g=net["gateway"]))
        trace("net veth")
        if opts["ports"]:
            ports = [dict(p) for p in opts["ports"]]
            portmap.claim(root, cid, ports)
            for p in ports:
                p["ip"] = done["ip"]
            done["ports"] = ports
            firewall.by_name(done.get("firewall")).add_ports(cid, ports)
            trace("net ports")
    except BaseException:
        detach(root, state)
        raise
    state["NetworkSettings"] = settings(done)


def settings(done):
    """Docker's NetworkSettings of a container (what `inspect` shows)."""
    return {"IPAddress": done.get("ip") or "", "Gateway": done.get("gateway") or "",
            "IPPrefixLen": int(done["subnet"].split("/")[1]) if done.get("subnet") else 0,
            "Ports": portmap.docker_ports(done.get("ports") or []),
            "Networks": {done["network"]: {"IPAddress": done.get("ip") or "", "Gateway": done.get("gateway") or "",
                                           "NetworkID": done.get("network_id", "")}}}


def detach(root, state):
    """Undo attach: the container's ports (rules and claims), its address, its name in its peers' /etc/hosts,
    its veth if the kernel has not removed it with the namespace yet. Safe to call more than once."""
    done = state.get("net")
    if not done or done.get("released"):
        return
    cid = state["id"]
    if done.get("ports"):
        try:
            firewall.by_name(done.get("firewall")).remove_ports(cid, done["ports"])
        finally:
            portmap.release(root, cid, done["ports"])
    veth = done.get("veth")
    if veth and link_exists(veth):
        netexec.run(["ip", "link", "del", veth], check=False)
    if done.get("ip"):
        with _Lock(root):
            path = os.path.join(_ipam_dir(root, done["network"]), done["ip"])
            try:
                with open(path, "rb") as handle:
                    mine = jsonio.loads(handle.read()).get("id") == cid
            except (OSError, ValueError):
                mine = False
            if mine:
                os.unlink(path)
                net = load(root, done["network"])
                if net and net["name"] != DEFAULT:
                    _refresh_peers(root, net, skip=cid)
    d = files_dir(root, cid)
    for name in ("hosts", "resolv.conf", "hosts.extra"):
        try:
            os.unlink(os.path.join(d, name))
        except OSError:
            pass
    try:
        os.rmdir(d)
    except OSError:
        pass
    done["released"] = True


# --- /etc/hosts and /etc/resolv.conf -------------------------------------------------------------------------

def _hosts_text(own, peers, add_hosts, gateway):
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    for name, addr in add_hosts:
        lines.append("{}\t{}".format(gateway if addr == "host-gateway" else addr, name))
    names = [own["hostname"]] + ([own["name"]] if own["name"] != own["hostname"] else [])
    lines.append("{}\t{}".format(own["ip"], " ".join(names + list(own.get("aliases") or []))))
    for peer in peers:
        names = [peer["name"], peer["id"][:12]] + list(peer.get("aliases") or [])
        if peer.get("hostname") not in names:
            names.append(peer["hostname"])
        lines.append("{}\t{}".format(peer["ip"], " ".join(names)))
    return "\n".join(lines) + "\n"


def _write_in_place(path, text):
    """Rewrite a file bind-mounted into a container: in place (a rename would leave the mount on the old one)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def files_dir(root, cid):
    """A container's /etc/hosts and /etc/resolv.conf on the host: outside its directory, which its overlay
    covers in its own mount namespace."""
    return os.path.join(networks_dir(root), "files", cid)


def _write_etc(root, spec, net, own, opts, user_defined):
    cdir = files_dir(root, spec["id"])
    os.makedirs(cdir, exist_ok=True)
    peers = [m for m in members(root, net) if m["id"] != spec["id"]] if user_defined else []
    extra = {"add_hosts": opts["add_hosts"], "gateway": net["gateway"]}
    _write_in_place(os.path.join(cdir, "hosts"), _hosts_text(own, peers, opts["add_hosts"], net["gateway"]))
    _write_in_place(os.path.join(cdir, "hosts.extra"), jsonio.dumps(extra))
    _write_in_place(os.path.join(cdir, "resolv.conf"), resolv_conf(opts["dns"], opts["dns_search"],
                                                                   opts["dns_option"]))


def _refresh_peers(root, net, skip):
    """Every member's /etc/hosts again, after `skip` came or went."""
    everyone = members(root, net)
    for member in everyone:
        if member["id"] == skip:
            continue
        cdir = files_dir(root, member["id"])
        hosts = os.path.join(cdir, "hosts")
        if not os.path.exists(hosts):
            continue
        try:
            with open(os.path.join(cdir, "hosts.extra"), "rb") as handle:
                extra = jsonio.loads(handle.read())
        except (OSError, ValueError):
            extra = {"add_hosts": [], "gateway": net["gateway"]}
        own = dict(member)
        own["name"] = own.get("name") or own["hostname"]
        peers = [m for m in everyone if m["id"] != member["id"]]
        try:
            _write_in_place(hosts, _hosts_text(own, peers, extra["add_hosts"], extra["gateway"]))
        except OSError:
            continue


def _read_resolv(path):
    servers, search, options_ = [], [], []
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return servers, search, options_
    for line in lines:
        f = line.split()
        if not f or f[0].startswith(("#", ";")):
            continue
        if f[0] == "nameserver" and len(f) > 1:
            servers.append(f[1])
        elif f[0] in ("search", "domain"):
            search = f[1:]
        elif f[0] == "options":
            options_.extend(f[1:])
    return servers, search, options_


def _loopback(addr):
    return addr.startswith("127.") or addr == "::1"


def resolv_conf(dns=None, dns_search=None, dns_option=None, host_file="/etc/resolv.conf",
                stub_upstream="/run/systemd/resolve/resolv.conf"):
    """The container's /etc/resolv.conf: --dns, else the host's nameservers a container can reach. A loopback
    stub (systemd-resolved's 127.0.0.53, dnsmasq on 127.0.0.1) is unreachable from the container's own
    namespace: its upstream servers are used when the host lists them (systemd-resolved), else Docker's
    fallback (8.8.8.8, 8.8.4.4)."""
    servers, search, opts = _read_resolv(host_file)
    if not dns:
        reachable = [s for s in servers if not _loopback(s)]
        if not reachable and servers:
            upstream = [s for s in _read_resolv(stub_upstream)[0] if not _loopback(s)]
            reachable = upstream or list(FALLBACK_DNS)
        if not servers:
            reachable = list(FALLBACK_DNS)
        dns = reachable
    lines = ["nameserver " + s for s in dns]
    search = dns_search or search
    if search and search != ["."]:
        lines.append("search " + " ".join(search))
    opts = dns_option or [o for o in opts if o != "trust-ad"]
    if opts:
        lines.append("options " + " ".join(opts))
    return "\n".join(lines) + "\n"
