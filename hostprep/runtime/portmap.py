"""Published ports: Docker's `-p` grammar, `-P` (every EXPOSEd port), and the host ports they take.

`-p [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp]`; HOST_PORT and CONTAINER_PORT may be ranges of one length
(`8000-8002:80-82`); no HOST_PORT (or `-P`) takes a free port of the host's. A host port is held by one
container at a time (a claim file under the state root, as Docker's port allocator) and must be free on the
host (a program listening on it is refused, as docker-proxy's bind would be).
"""

import os
import socket

from hostprep.runtime.errors import RunError

PROTOS = ("tcp", "udp")


def _port(text, spec):
    try:
        value = int(text)
    except ValueError:
        raise RunError("invalid port {!r} in -p {}".format(text, spec))
    if not 0 < value < 65536:
        raise RunError("invalid port {} in -p {}: must be 1-65535".format(value, spec))
    return value


def _range(text, spec):
    first, sep, last = text.partition("-")
    a = _port(first, spec)
    b = _port(last, spec) if sep else a
    if b < a:
        raise RunError("invalid port range {!r} in -p {}".format(text, spec))
    return list(range(a, b + 1))


def parse(spec):
    """One -p value as a list of {"host_ip", "host_port" (0: any free one), "container_port", "proto"}."""
    text, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in PROTOS:
        raise RunError("invalid protocol {!r} in -p {} (tcp or udp)".format(proto, spec))
    if text.startswith("["):
        raise RunError("invalid -p {}: IPv6 host addresses are not supported".format(spec))
    parts = text.split(":")
    if len(parts) > 3 or not parts[-1]:
        raise RunError("invalid -p {}: use [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]".format(spec))
    host_ip = parts[0] if len(parts) == 3 else ""
    if host_ip:
        try:
            socket.inet_aton(host_ip)
        except OSError:
            raise RunError("invalid host address {!r} in -p {}".format(host_ip, spec))
        if host_ip.count(".") != 3:
            raise RunError("invalid host address {!r} in -p {}".format(host_ip, spec))
    container = _range(parts[-1], spec)
    host_text = parts[-2] if len(parts) >= 2 else ""
    host = _range(host_text, spec) if host_text else [0] * len(container)
    if len(host) != len(container):
        if len(container) == 1:  # Docker: a host range for one container port means "any one of these"
            host = [_pick_in(host, host_ip, proto, spec)]
        else:
            raise RunError("invalid -p {}: the host and container port ranges differ in length".format(spec))
    return [{"host_ip": host_ip or "0.0.0.0", "host_port": h, "container_port": c, "proto": proto}
            for h, c in zip(host, container)]  # noqa: B905 - equal lengths (checked), 3.6 has no strict=


def exposed(config):
    """-P: every port the image EXPOSEs ({"80/tcp": {}}), each on a free host port."""
    out = []
    for key in sorted((config or {}).get("ExposedPorts") or {}):
        port, _, proto = key.partition("/")
        out.extend(parse("{}/{}".format(port, proto or "tcp")))
    return out


def _free_on_host(host_ip, port, proto):
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host_ip if host_ip not in ("", "0.0.0.0") else "", port))
        return sock.getsockname()[1]
    except OSError:
        return None
    finally:
        sock.close()


def _pick_in(candidates, host_ip, proto, spec):
    for port in candidates:
        if _free_on_host(host_ip, port, proto):
            return port
    raise RunError("no free host port in -p {}".format(spec))


def claims_dir(root):
    path = os.path.join(root, "networks", "ports")
    os.makedirs(path, exist_ok=True)
    return path


def claim(root, cid, ports):
    """Give each mapping its host port (a free one for 0) and hold it for `cid`; all or none."""
    held = []
    try:
        for p in ports:
            if p["host_port"] == 0:
                p["host_port"] = _claim_free(root, cid, p)
            else:
                _claim(root, cid, p)
            held.append(p)
    except BaseException:
        release(root, cid, held)
        raise
    return ports


def _claim_path(root, p):
    return os.path.join(claims_dir(root), "{}-{}".format(p["proto"], p["host_port"]))


def _claim(root, cid, p):
    path = _claim_path(root, p)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            if _stale(root, path):
                continue
            raise RunError("port {}/{} is already allocated by another container".format(p["host_port"], p["proto"]))
        os.write(fd, cid.encode())
        os.close(fd)
        break
    else:
        raise RunError("port {}/{} is already allocated".format(p["host_port"], p["proto"]))
    if not _free_on_host(p["host_ip"], p["host_port"], p["proto"]):
        os.unlink(path)
        raise RunError("port {}/{} is in use on the host".format(p["host_port"], p["proto"]))


def _stale(root, path):
    """A claim whose container no longer exists (removed while its supervisor was gone): freed."""
    try:
        with open(path) as handle:
            owner = handle.read().strip()
    except OSError:
        return True
    return free_orphan(root, path, owner)


def free_orphan(root, path, owner, mine=None):
    """A record (a port claim, a network address) whose owner is not a container that still exists, or is
    `mine` (started again after a boot): removed; True when it is free now."""
    if owner and owner != mine and os.path.isdir(os.path.join(root, "containers", owner)):
        return False
    try:
        os.unlink(path)
    except OSError:
        pass
    return True


def _claim_free(root, cid, p):
    for _ in range(20):
        port = _free_on_host(p["host_ip"], 0, p["proto"])
        if port is None:
            break
        try:
            _claim(root, cid, dict(p, host_port=port))
            return port
        except RunError:
            continue
    raise RunError("no free host port for {}/{}".format(p["container_port"], p["proto"]))


def release(root, cid, ports):
    for p in ports:
        path = _claim_path(root, p)
        try:
            with open(path) as handle:
                owner = handle.read().strip()
            if owner == cid:
                os.unlink(path)
        except OSError:
            pass


def docker_ports(ports):
    """NetworkSettings.Ports as Docker shows them: {"80/tcp": [{"HostIp": ..., "HostPort": "8080"}]}."""
    out = {}
    for p in ports:
        out.setdefault("{}/{}".format(p["container_port"], p["proto"]), []).append(
            {"HostIp": p["host_ip"], "HostPort": str(p["host_port"])})
    return out
