"""hostprep-runtime's bridge networking beside podman's (`--network bridge`, CNI) on this machine.

Run as root: python bench/runtime_net/bench_runtime_net.py [--starts 20] [--mb 512] [--connects 300]

Both runtimes run the same busybox-static image (imported into each) and the same server, busybox `httpd`,
serving a file from a bind mount, published with `-p HOST:80`:
- throughput: one HTTP GET of an --mb MiB file through the published port, client on the host (127.0.0.1) and
  in a network namespace the bench makes (another host's view: its own veth, DNAT in PREROUTING), best of 3;
- connection latency: --connects sequential connect + GET of a 2-byte file + close, median and p90 (ms);
- start: `run --rm --network bridge IMAGE true`, median of --starts runs (one of each runtime in turn).
Targets (issue 14): throughput within 10% of podman's, start with a bridge network faster than podman's.
Everything it makes (containers, namespace, veth, networks of its own state root) is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hostprep.runtime import network  # noqa: E402


def sh(*argv: str, env: dict | None = None, check: bool = True) -> str:
    res = subprocess.run(list(argv), capture_output=True, text=True, env=env)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])}: {res.stderr.strip()[-400:]}")
    return res.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def rootfs_tar(base: Path) -> Path:
    rootfs = base / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", rootfs / "bin/busybox")
    for applet in ("sh", "true", "httpd", "sleep"):
        (rootfs / "bin" / applet).symlink_to("busybox")
    for d in ("proc", "sys", "dev", "tmp", "etc", "www"):
        (rootfs / d).mkdir(exist_ok=True)
    (rootfs / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    tar = base / "bb.tar"
    with tarfile.open(tar, "w") as t:
        t.add(rootfs, arcname=".")
    return tar


def get(url: str, ns: str | None = None) -> float:
    """Seconds for one GET of `url` read to the end (in `ns` through a small client program)."""
    code = ("import sys,time,socket;h,p,path=sys.argv[1],int(sys.argv[2]),sys.argv[3];t=time.perf_counter();"
            "s=socket.create_connection((h,p));s.sendall(('GET '+path+' HTTP/1.0\\r\\n\\r\\n').encode());n=0\n"
            "while True:\n b=s.recv(1<<20)\n if not b: break\n n+=len(b)\n"
            "print(time.perf_counter()-t, n)")
    host, _, rest = url[len("http://"):].partition(":")
    port, _, path = rest.partition("/")
    argv = ([] if ns is None else ["ip", "netns", "exec", ns]) + [sys.executable, "-c", code, host, port, "/" + path]
    out = sh(*argv).split()
    return float(out[0])


def connect_latency(host: str, port: int, n: int) -> list[float]:
    times = []
    request = b"GET /small HTTP/1.0\r\n\r\n"
    for _ in range(n):
        t0 = time.perf_counter()
        with socket.create_connection((host, port)) as s:
            s.sendall(request)
            while s.recv(65536):
                pass
        times.append(time.perf_counter() - t0)
    return times


def wait_port(host: str, port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1) as s:
                s.sendall(b"GET /small HTTP/1.0\r\n\r\n")
                if s.recv(100):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answered on {host}:{port}")


class Netns:
    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.ns, self.host_if, self.peer_if = f"hnb{tag}", f"hnbh{tag}", f"hnbp{tag}"
        octet = int(tag[:2], 16)
        self.host_addr, self.peer_addr = f"198.19.{octet}.1", f"198.19.{octet}.2"

    def __enter__(self):
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.peer_if, "netns", self.ns)
        sh("ip", "addr", "add", self.host_addr + "/30", "dev", self.host_if)
        sh("ip", "link", "set", self.host_if, "up")
        for cmd in (["addr", "add", self.peer_addr + "/30", "dev", self.peer_if], ["link", "set", self.peer_if, "up"],
                    ["link", "set", "lo", "up"], ["route", "add", "default", "via", self.host_addr]):
            sh("ip", "-n", self.ns, *cmd)
        return self

    def __exit__(self, *exc):
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--starts", type=int, default=20)
    ap.add_argument("--mb", type=int, default=512)
    ap.add_argument("--connects", type=int, default=300)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 1
    base = Path(tempfile.mkdtemp(prefix="hn-bench-net-"))
    state = base / "state"
    env = dict(os.environ, HOSTPREP_RUNTIME_ROOT=str(state), PYTHONPATH=str(ROOT))
    hp = [sys.executable, "-m", "hostprep.runtime"]
    image = f"hnbench{uuid.uuid4().hex[:6]}"
    www = base / "www"
    www.mkdir()
    with open(www / "big", "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(args.mb):
            f.write(block)
    (www / "small").write_text("ok")
    tar = rootfs_tar(base)
    sh(*hp, "import", str(tar), "bb", env=env)
    sh("podman", "import", str(tar), image)
    results: dict[str, dict[str, float]] = {"hostprep-runtime": {}, "podman": {}}
    containers: list[tuple[str, str]] = []
    try:
        with Netns() as other:
            for peer in ("hostprep-runtime", "podman"):
                port = free_port()
                run = ["run", "-d", "-p", f"{port}:80", "-v", f"{www}:/www", "bb" if peer != "podman" else image,
                       "httpd", "-f", "-p", "80", "-h", "/www"]
                if peer == "podman":
                    cid = sh("podman", *run[:1], "--network", "bridge", *run[1:]).strip()
                else:
                    cid = sh(*hp, *run[:1], "--network", "bridge", *run[1:], env=env).strip()
                containers.append((peer, cid))
                wait_port("127.0.0.1", port)
                r = results[peer]
                size = args.mb * (1 << 20)
                r["MB/s localhost"] = size / min(get(f"http://127.0.0.1:{port}/big") for _ in range(3)) / 1e6
                r["MB/s other host"] = size / min(get(f"http://{other.host_addr}:{port}/big", ns=other.ns)
                                                   for _ in range(3)) / 1e6
                lat = connect_latency("127.0.0.1", port, args.connects)
                r["connect+GET median ms"] = statistics.median(lat) * 1e3
                r["connect+GET p90 ms"] = sorted(lat)[int(len(lat) * 0.9)] * 1e3
            starts = {"hostprep-runtime": [], "podman": []}
            for _ in range(args.starts):
                t0 = time.perf_counter()
                sh(*hp, "run", "--rm", "--network", "bridge", "bb", "true", env=env)
                starts["hostprep-runtime"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                sh("podman", "run", "--rm", "--network", "bridge", image, "true")
                starts["podman"].append(time.perf_counter() - t0)
            for peer, times in starts.items():
                results[peer]["start --network bridge median ms"] = statistics.median(times) * 1e3
    finally:
        for peer, cid in containers:
            if peer == "podman":
                sh("podman", "rm", "-f", cid, check=False)
            else:
                sh(*hp, "rm", "-f", cid, env=env, check=False)
        sh("podman", "rmi", "-f", image, check=False)
        for net in network.list_networks(str(state)):
            network.teardown(net)
        shutil.rmtree(base, ignore_errors=True)
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"({os.cpu_count()} cores), firewall backend: {network.firewall.backend().name}")
    print(f"{'':34}{'hostprep-runtime':>18}{'podman':>12}{'ratio':>8}")
    for key in results["podman"]:
        a, b = results["hostprep-runtime"][key], results["podman"][key]
        print(f"{key:34}{a:>18.2f}{b:>12.2f}{a / b:>8.2f}")
    hp_r, pod = results["hostprep-runtime"], results["podman"]
    tput = min(hp_r["MB/s localhost"] / pod["MB/s localhost"], hp_r["MB/s other host"] / pod["MB/s other host"])
    start_ok = hp_r["start --network bridge median ms"] < pod["start --network bridge median ms"]
    print(f"target throughput within 10% of podman: {'met' if tput >= 0.9 else 'NOT met'} (worst ratio {tput:.2f})")
    print(f"target start faster than podman: {'met' if start_ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
