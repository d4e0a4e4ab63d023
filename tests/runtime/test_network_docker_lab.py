"""hostprep-runtime's published ports beside Docker CE on one EL9 lab host: both reachable from the control
node (another host) and from the host itself, each runtime's containers reach the other's ports, and neither
touches the other's rules (Docker's iptables rules are the same before, during and after; a Docker restart
leaves the runtime's alone).

The lab host runs under systemd-nspawn, whose /proc/sys is read-only inside: the runtime cannot set
route_localnet on its bridge there (it can on a real host), so the test sets it from the machine in the
host's network namespace, where the runtime's own write would have put it.
"""

from __future__ import annotations

import subprocess
import sys
import time

from hostprep.lab import paths
from tests.runtime.support import ROOT, busybox_rootfs_tar

GET = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {} {} | tail -1"


def ssh(host, cmd: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-i", str(paths.KEY), "-o", f"UserKnownHostsFile={paths.KNOWN_HOSTS}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", f"root@{host.address}", cmd],
        capture_output=True, text=True, timeout=timeout)


def ok(host, cmd: str) -> str:
    res = ssh(host, cmd)
    assert res.returncode == 0, f"{cmd}: {res.stdout}{res.stderr}"
    return res.stdout


def scp(host, *files) -> None:
    subprocess.run(["scp", "-q", "-i", str(paths.KEY), "-o", f"UserKnownHostsFile={paths.KNOWN_HOSTS}",
                    "-o", "BatchMode=yes", *map(str, files), f"root@{host.address}:/root/"], check=True, timeout=120)


def fetch(address: str, port: int) -> str:
    import urllib.request

    deadline = time.monotonic() + 10
    while True:
        try:
            return urllib.request.urlopen(f"http://{address}:{port}/", timeout=3).read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def docker_rules(host) -> list[str]:
    """Every iptables rule and chain but the runtime's (HPRT*), without counters."""
    out = ok(host, "iptables-save")
    return [line.split(" [")[0] if line.startswith(":") else line for line in out.splitlines()
            if not line.startswith("#") and "HPRT" not in line]


def test_published_ports_beside_docker_ce_on_an_el9_lab_host(lab, tmp_path) -> None:
    (h,) = lab.up(1, "el9", "hnnet")
    ok(h, f"curl -fsS -o /etc/yum.repos.d/docker-ce.repo {paths.REPO_URL}/linux/centos/docker-ce.repo && "
          "dnf -y -q install docker-ce docker-ce-cli containerd.io && systemctl start docker")
    pyz = tmp_path / "hostprep-runtime.pyz"
    subprocess.run([sys.executable, "-m", "hostprep.runtime.build", str(pyz)], check=True, cwd=ROOT,
                   capture_output=True)
    tar = busybox_rootfs_tar(tmp_path)
    scp(h, pyz, tar)
    hp = "python3 /root/hostprep-runtime.pyz"
    ok(h, "mkdir -p /srv/d /srv/h && echo from-docker > /srv/d/index.html && echo from-hostprep > /srv/h/index.html"
          " && docker import /root/busybox.tar lab/bb:1 >/dev/null && docker run -d --name dweb -p 8081:80 "
          "-v /srv/d:/www lab/bb:1 /bin/httpd -f -p 80 -h /www")
    before = docker_rules(h)
    ok(h, f"{hp} import /root/busybox.tar bb && {hp} run -d --name hweb -p 8082:80 -v /srv/h:/www bb httpd -f "
          "-p 80 -h /www")
    bridge = ok(h, f"{hp} network inspect bridge").split('"com.docker.network.bridge.name": "')[1].split('"')[0]
    subprocess.run(["ip", "netns", "exec", f"hpl-{h.name}", "sh", "-c",
                    f"echo 1 > /proc/sys/net/ipv4/conf/{bridge}/route_localnet"], check=True)
    try:
        assert fetch(h.address, 8081) == "from-docker\n"  # from the control node: another host
        assert fetch(h.address, 8082) == "from-hostprep\n"
        assert ok(h, "curl -fsS -m 5 127.0.0.1:8082; curl -fsS -m 5 127.0.0.1:8081") == "from-hostprep\nfrom-docker\n"
        assert ok(h, f"{hp} run --rm --network bridge bb sh -c \"{GET.format(h.address, 8081)}\"") == "from-docker\n"
        assert ok(h, f"docker run --rm lab/bb:1 sh -c \"{GET.format(h.address, 8082)}\"") == "from-hostprep\n"
        assert docker_rules(h) == before  # nothing of Docker's was changed
        assert "hprt:" in ok(h, "iptables -t nat -S HPRT-DNAT")
        ok(h, "systemctl restart docker")  # Docker rebuilds its chains; the runtime's stay
        assert fetch(h.address, 8082) == "from-hostprep\n"
        after_restart = docker_rules(h)
    finally:
        ssh(h, f"{hp} rm -f hweb")
    assert "hprt:" not in ok(h, "iptables -t nat -S HPRT-DNAT")
    assert docker_rules(h) == after_restart  # removing the runtime's container left Docker's rules alone
    ok(h, "docker rm -f dweb")
    lab.down("hnnet")
