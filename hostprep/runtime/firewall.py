"""Packet rules of hostprep-runtime's networks: NAT out, published ports (DNAT, from other hosts and from the
host itself), forwarding — in the runtime's own chains (iptables) or its own table (nftables), never in
Docker's or anyone else's.

Backends (HOSTPREP_RUNTIME_FIREWALL=nft|iptables forces one):
- nft, where the host has the `nft` program: table `ip hostprep_runtime`; the published ports are elements of
  maps (`add/delete element`), the networks elements of sets, so a container's start or exit changes data,
  never rules.
- iptables otherwise (legacy or nf_tables flavour): chains HPRT-DNAT and HPRT-POSTROUTING (nat),
  HPRT-FORWARD (filter), each entered by one jump from the built-in chain. A container's ports are rules
  tagged with its id, added and deleted in one `iptables-restore --noflush`.

Forwarding: Docker sets the filter FORWARD policy to DROP, and a drop in any nftables base chain is final,
so the accept for the runtime's bridges always goes where that policy is: an HPRT-FORWARD chain of the
iptables filter table when iptables is installed (both backends), the nft table's forward chain otherwise.

Every bridge of the runtime is named hprt*, so forwarding and the localhost rules are written once for all
networks; only NAT out (and hairpin) names a network's subnet.

From the host itself (localhost or any of its addresses): the DNAT is applied in OUTPUT too, the bridge gets
route_localnet, and a connection from 127.0.0.0/8 leaving through a bridge is masqueraded to the gateway.
Hairpin (a container to a published port of its own network): masqueraded, so the reply comes back the way
the request went.
"""

import os

from hostprep.runtime import netexec

BRIDGE_GLOB = "hprt"
TABLE = "hostprep_runtime"


def backend():
    forced = os.environ.get("HOSTPREP_RUNTIME_FIREWALL")
    if forced in ("nft", "iptables"):
        return Nft() if forced == "nft" else Iptables()
    return Nft() if netexec.which("nft") else Iptables()


def by_name(name):
    """The backend a network was made with (recorded in it), so its rules are always removed where they are."""
    if name == "nft":
        return Nft()
    if name == "iptables":
        return Iptables()
    return backend()


def _iptables_present():
    return netexec.which("iptables") is not None and netexec.which("iptables-restore") is not None


class _ForwardViaIptables:
    """The forward accept in the iptables filter table (where Docker's DROP policy is)."""

    def ensure_forward(self):
        ipt = ["iptables", "-w"]
        netexec.run(ipt + ["-t", "filter", "-N", "HPRT-FORWARD"], check=False)
        for rule in (["-i", BRIDGE_GLOB + "+", "-j", "ACCEPT"],
                     ["-o", BRIDGE_GLOB + "+", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED,DNAT",
                      "-j", "ACCEPT"]):
            if netexec.run(ipt + ["-t", "filter", "-C", "HPRT-FORWARD"] + rule, check=False)[0] != 0:
                netexec.run(ipt + ["-t", "filter", "-A", "HPRT-FORWARD"] + rule)
        jump = ["-j", "HPRT-FORWARD"]
        if netexec.run(ipt + ["-t", "filter", "-C", "FORWARD"] + jump, check=False)[0] != 0:
            netexec.run(ipt + ["-t", "filter", "-I", "FORWARD"] + jump)

    @staticmethod
    def _isolation(net):
        """--internal: nothing is forwarded between the network and anywhere else (first in HPRT-FORWARD)."""
        b = net["bridge"]
        return [["-i", b, "!", "-o", b, "-j", "DROP"], ["-o", b, "!", "-i", b, "-j", "DROP"]]

    def isolate(self, net):
        if net.get("internal") and _iptables_present():
            for rule in self._isolation(net):
                netexec.run(["iptables", "-w", "-t", "filter", "-I", "HPRT-FORWARD"] + rule)

    def unisolate(self, net):
        if net.get("internal") and _iptables_present():
            for rule in self._isolation(net):
                netexec.run(["iptables", "-w", "-t", "filter", "-D", "HPRT-FORWARD"] + rule, check=False)


class Iptables(_ForwardViaIptables):
    name = "iptables"

    def ensure_base(self):
        ipt = ["iptables", "-w"]
        netexec.run(ipt + ["-t", "nat", "-N", "HPRT-DNAT"], check=False)
        netexec.run(ipt + ["-t", "nat", "-N", "HPRT-POSTROUTING"], check=False)
        local = ["-m", "addrtype", "--dst-type", "LOCAL", "-j", "HPRT-DNAT"]
        for chain, rule in (("PREROUTING", local), ("OUTPUT", local), ("POSTROUTING", ["-j", "HPRT-POSTROUTING"]),
                            ("HPRT-POSTROUTING", ["-s", "127.0.0.0/8", "-o", BRIDGE_GLOB + "+", "-j", "MASQUERADE"])):
            if netexec.run(ipt + ["-t", "nat", "-C", chain] + rule, check=False)[0] != 0:
                netexec.run(ipt + ["-t", "nat", "-A", chain] + rule)
        self.ensure_forward()

    @staticmethod
    def _network_rules(net):
        rules = ["-A HPRT-POSTROUTING -s {subnet} -o {bridge} -m conntrack --ctstate DNAT -j MASQUERADE"]
        if not net.get("internal"):
            rules.append("-A HPRT-POSTROUTING -s {subnet} ! -o {bridge} -j MASQUERADE")
        return [r.format(**net) for r in rules]

    def _restore(self, table, lines, check=True):
        data = "*{}\n{}\nCOMMIT\n".format(table, "\n".join(lines))
        return netexec.run(["iptables-restore", "--noflush"], data=data, check=check)

    def add_network(self, net):
        self.ensure_base()
        self.remove_network(net)  # never twice
        self._restore("nat", self._network_rules(net))
        self.isolate(net)

    def remove_network(self, net):
        for rule in self._network_rules(net):  # one at a time: a missing rule must not keep the others
            self._restore("nat", ["-D" + rule[2:]], check=False)
        self.unisolate(net)

    @staticmethod
    def _port_rules(cid, ports):
        out = []
        for p in ports:
            dest = "-d {} ".format(p["host_ip"]) if p["host_ip"] not in ("", "0.0.0.0") else ""
            out.append("-A HPRT-DNAT {}-p {proto} -m {proto} --dport {host_port} -m comment --comment hprt:{cid} "
                       "-j DNAT --to-destination {ip}:{container_port}".format(dest, cid=cid, **p))
        return out

    def add_ports(self, cid, ports):
        if ports:
            self._restore("nat", self._port_rules(cid, ports))

    def remove_ports(self, cid, ports):
        if ports:
            lines = ["-D" + r[2:] for r in self._port_rules(cid, ports)]
            if self._restore("nat", lines, check=False)[0] != 0:
                for line in lines:
                    self._restore("nat", [line], check=False)


class Nft(_ForwardViaIptables):
    name = "nft"

    def _nft(self, script, check=True):
        return netexec.run(["nft", "-f", "-"], data=script, check=check)

    def ensure_base(self):
        # `add` leaves what exists alone; the chains' rules are written only when the table is new
        if netexec.run(["nft", "list", "table", "ip", TABLE], check=False)[0] != 0:
            self._nft(_NFT_TABLE.format(table=TABLE, glob=BRIDGE_GLOB))
        if _iptables_present():
            self.ensure_forward()

    def add_network(self, net):
        self.ensure_base()
        self.remove_network(net)
        kind = "internal" if net.get("internal") else "subnets"
        self._nft("add element ip {t} {k} {{ {s} }}\nadd element ip {t} hairpin {{ {s} }}\n".format(
            t=TABLE, k=kind, s=net["subnet"]))
        self.isolate(net)

    def remove_network(self, net):
        for kind in ("subnets", "internal", "hairpin"):
            self._nft("delete element ip {} {} {{ {} }}\n".format(TABLE, kind, net["subnet"]), check=False)
        self.unisolate(net)

    @staticmethod
    def _elements(ports):
        lines = []
        for p in ports:
            value = "{} . {}".format(p["ip"], p["container_port"])
            if p["host_ip"] in ("", "0.0.0.0"):
                lines.append(("{}_any".format(p["proto"]), "{} : {}".format(p["host_port"], value)))
            else:
                lines.append(("{}_ip".format(p["proto"]), "{} . {} : {}".format(p["host_ip"], p["host_port"], value)))
        return lines

    def add_ports(self, cid, ports):
        if ports:
            self._nft("".join("add element ip {} {} {{ {} }}\n".format(TABLE, m, e) for m, e in self._elements(ports)))

    def remove_ports(self, cid, ports):
        for m, e in self._elements(ports):
            key = e.split(" : ")[0]
            self._nft("delete element ip {} {} {{ {} }}\n".format(TABLE, m, key), check=False)


_NFT_TABLE = """table ip {table} {{
  map tcp_any {{ type inet_service : ipv4_addr . inet_service; }}
  map udp_any {{ type inet_service : ipv4_addr . inet_service; }}
  map tcp_ip {{ type ipv4_addr . inet_service : ipv4_addr . inet_service; }}
  map udp_ip {{ type ipv4_addr . inet_service : ipv4_addr . inet_service; }}
  set subnets {{ type ipv4_addr; flags interval; }}
  set internal {{ type ipv4_addr; flags interval; }}
  set hairpin {{ type ipv4_addr; flags interval; }}
  chain ports {{
    dnat ip to ip daddr . tcp dport map @tcp_ip
    dnat ip to ip daddr . udp dport map @udp_ip
    dnat ip to tcp dport map @tcp_any
    dnat ip to udp dport map @udp_any
  }}
  chain prerouting {{ type nat hook prerouting priority -100; fib daddr type local jump ports; }}
  chain output {{ type nat hook output priority -100; fib daddr type local jump ports; }}
  chain postrouting {{
    type nat hook postrouting priority 100;
    oifname "{glob}*" ip saddr 127.0.0.0/8 masquerade
    oifname "{glob}*" ct status dnat ip saddr @hairpin masquerade
    oifname != "{glob}*" ip saddr @subnets masquerade
  }}
  chain forward {{
    type filter hook forward priority 0;
    iifname "{glob}*" accept
    oifname "{glob}*" ct state established,related accept
    oifname "{glob}*" ct status dnat accept
  }}
}}
"""

