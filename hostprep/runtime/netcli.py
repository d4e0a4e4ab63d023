"""`network create/ls/inspect/rm/prune` and `port`, with Docker's output shapes."""

import json
import os
import sys

from hostprep.runtime import network


def add_parsers(sub):
    net = sub.add_parser("network", help="bridge networks")
    net_sub = net.add_subparsers(dest="network_command")
    net_sub.required = True
    cr = net_sub.add_parser("create", help="a user-defined bridge network (containers on it resolve each other)")
    cr.add_argument("-d", "--driver", default="bridge", choices=("bridge",))
    cr.add_argument("--subnet", help="A.B.C.D/PREFIX (default: a free /24 of 10.213.0.0-10.220.255.0)")
    cr.add_argument("--gateway")
    cr.add_argument("--internal", action="store_true", help="no NAT out of the network")
    cr.add_argument("name")
    ls = net_sub.add_parser("ls", help="list networks")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    ls.add_argument("-q", "--quiet", action="store_true")
    ins = net_sub.add_parser("inspect", help="a network's details and its containers")
    ins.add_argument("names", nargs="+")
    rm = net_sub.add_parser("rm", help="remove networks no container uses")
    rm.add_argument("names", nargs="+")
    pr = net_sub.add_parser("prune", help="remove every user-defined network no container uses")
    pr.add_argument("-f", "--force", action="store_true", help="do not prompt (this command never prompts)")
    port = sub.add_parser("port", help="a container's published ports")
    port.add_argument("name")
    port.add_argument("private", nargs="?", help="CONTAINER_PORT[/PROTO]")


def _docker_view(root, net):
    containers = {}
    for m in network.members(root, net):
        containers[m["id"]] = {"Name": m["name"], "IPv4Address": "{}/{}".format(m["ip"], net["subnet"].split("/")[1])}
    return {"Name": net["name"], "Id": net["id"], "Driver": net["driver"], "Scope": "local",
            "Internal": net["internal"], "IPAM": {"Driver": "default", "Config": [{"Subnet": net["subnet"],
                                                                                 "Gateway": net["gateway"]}]},
            "Options": {"com.docker.network.bridge.name": net["bridge"]}, "Containers": containers,
            "Created": net["created"]}


def main(opts, root):
    if opts.command == "port":
        return _port(opts, root)
    cmd = opts.network_command
    if cmd in ("create", "rm", "prune") and os.geteuid() != 0:
        print("hostprep-runtime: must run as root (bridges, addresses, packet rules)", file=sys.stderr)
        return 1
    if cmd == "create":
        print(network.create(root, opts.name, subnet=opts.subnet, gateway=opts.gateway, internal=opts.internal)["id"])
    elif cmd == "ls":
        network.get(root, network.DEFAULT) if os.geteuid() == 0 else None  # the default network is always listed
        nets = network.list_networks(root)
        if opts.format == "json":
            print(json.dumps([_docker_view(root, n) for n in nets], sort_keys=True))
        elif opts.quiet:
            for n in nets:
                print(n["id"][:12])
        else:
            print("{:<14}{:<24}{:<10}{:<20}{}".format("NETWORK ID", "NAME", "DRIVER", "SUBNET", "BRIDGE"))
            for n in nets:
                print("{:<14}{:<24}{:<10}{:<20}{}".format(n["id"][:12], n["name"], n["driver"], n["subnet"],
                                                            n["bridge"]))
    elif cmd == "inspect":
        if network.DEFAULT in opts.names and os.geteuid() == 0:
            network.get(root, network.DEFAULT)
        print(json.dumps([_docker_view(root, network.find(root, n)) for n in opts.names], indent=2, sort_keys=True))
    elif cmd == "rm":
        for name in opts.names:
            network.remove(root, name)
            print(name)
    elif cmd == "prune":
        gone = network.prune(root)
        if gone:
            print("Deleted Networks:")
            for name in gone:
                print(name)
    return 0


def _port(opts, root):
    from hostprep.runtime.state import find

    state = find(root, opts.name)
    ports = (state.get("net") or {}).get("ports") or []
    if state.get("status") != "running":
        ports = []
    want = opts.private
    if want and "/" not in want:
        want += "/tcp"
    shown = False
    for p in ports:
        key = "{}/{}".format(p["container_port"], p["proto"])
        if want and key != want:
            continue
        shown = True
        print("{}{}:{}".format("" if want else key + " -> ", p["host_ip"], p["host_port"]))
    if want and not shown:
        print("Error: No public port '{}' published for {}".format(want, opts.name), file=sys.stderr)
        return 1
    return 0
