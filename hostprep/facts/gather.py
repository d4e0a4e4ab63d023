"""Gather the `ansible_facts` roles rely on with one shell script (no Python on the host)."""

from __future__ import annotations

import re
import shlex
from importlib import resources
from typing import Any

from hostprep.errors import TransportError

# os-release ID -> (Ansible distribution, os_family)
DISTRIBUTIONS = {
    "centos": ("CentOS", "RedHat"), "rhel": ("RedHat", "RedHat"), "rocky": ("Rocky", "RedHat"),
    "almalinux": ("AlmaLinux", "RedHat"), "ol": ("OracleLinux", "RedHat"), "fedora": ("Fedora", "RedHat"),
    "amzn": ("Amazon", "RedHat"), "debian": ("Debian", "Debian"), "ubuntu": ("Ubuntu", "Debian"),
    "sles": ("SLES", "Suse"), "opensuse-leap": ("openSUSE Leap", "Suse"), "alpine": ("Alpine", "Alpine"),
    "arch": ("Archlinux", "Archlinux"),
}


def _memory_mb(mem: dict[str, int]) -> dict[str, dict[str, int]]:
    """Ansible's memory_mb fact (Linux): real, nocache (free counts buffers and page cache) and swap, in MB."""
    total, free = mem.get("MemTotal", 0), mem.get("MemFree", 0)
    reclaimable = free + mem.get("Buffers", 0) + mem.get("Cached", 0)
    swap, swap_free = mem.get("SwapTotal", 0), mem.get("SwapFree", 0)
    return {"real": {"total": total, "used": total - free, "free": free},
            "nocache": {"free": reclaimable, "used": total - reclaimable},
            "swap": {"total": swap, "free": swap_free, "used": swap - swap_free, "cached": mem.get("SwapCached", 0)}}


def facts_script() -> str:
    return resources.files("hostprep.facts").joinpath("script.sh").read_text()


def _sections(stdout: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for line in stdout.splitlines():
        if line.startswith("@@"):
            current = line[2:].strip()
            out[current] = []
        elif current is not None:
            out[current].append(line)
    return out


def _kv(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        if "=" in line:
            k, v = line.split("=", 1)
            try:
                out[k.strip()] = " ".join(shlex.split(v)) if v.strip() else ""
            except ValueError:
                out[k.strip()] = v.strip().strip('"')
    return out


def _int(text: str, default: int = 0) -> int:
    try:
        return int(text.strip())
    except (ValueError, AttributeError):
        return default


def parse_facts(stdout: str) -> dict[str, Any]:
    """Ansible-named facts (without the ansible_ prefix) from the script's output."""
    s = _sections(stdout)
    if "end" not in s:
        raise TransportError("facts script output is incomplete")
    osr = _kv(s.get("os-release", []))
    os_id = osr.get("ID", "").lower()
    dist, family = DISTRIBUTIONS.get(os_id, (osr.get("NAME", os_id.capitalize() or "Unknown"), "Unknown"))
    if family == "Unknown":
        like = osr.get("ID_LIKE", "").split()
        for other in like:
            if other in DISTRIBUTIONS:
                family = DISTRIBUTIONS[other][1]
                break
    version = osr.get("VERSION_ID", "")
    release_line = " ".join(s.get("redhat-release", [])).strip()
    if family == "RedHat" and release_line:
        match = re.search(r"release (\d+(?:\.\d+)*)", release_line)
        if match and match.group(1).startswith(version.split(".")[0]):
            version = match.group(1)
    debian_version = " ".join(s.get("debian_version", [])).strip()
    if dist == "Debian" and debian_version[:1].isdigit():
        version = debian_version  # like Ansible: the point release (12.7), not VERSION_ID (12)
    uname = s.get("uname", ["", "", "", "", ""]) + [""] * 5
    hostname = s.get("hostname", ["", ""]) + ["", ""]
    mem = {}
    for line in s.get("meminfo", []):
        k, _, v = line.partition(":")
        mem[k] = _int(v.split()[0]) // 1024 if v.split() else 0
    cpu = s.get("cpuinfo", ["0", "0", "0"]) + ["0", "0", "0"]
    ident = s.get("id", []) + [""] * 5
    pkgs = s.get("pkgmgr", [])
    pkg_mgr = "unknown"
    if family == "RedHat":
        # like Ansible (pkg_mgr.py, _check_rh_versions): dnf wherever the host has it, but yum on a
        # release before 8 that has yum, even beside a dnf (an EL7 with dnf installed still says yum)
        pkg_mgr = "dnf" if "dnf" in pkgs else "unknown"
        major = version.split(".")[0]
        if major.isdigit() and int(major) < 8 and "yum" in pkgs:
            pkg_mgr = "yum"
    elif "apt-get" in pkgs:
        pkg_mgr = "apt"
    elif pkgs:
        pkg_mgr = pkgs[0]
    init = (s.get("init") or ["unknown"])[0].strip()
    default_ipv4: dict[str, Any] = {}
    route = (s.get("route") or [""])[0].split()
    if "dev" in route:
        default_ipv4["interface"] = route[route.index("dev") + 1]
    if "via" in route:
        default_ipv4["gateway"] = route[route.index("via") + 1]
    all_v4 = []
    for line in s.get("addrs", []):
        parts = line.split()
        if "inet" in parts:
            iface = parts[1]
            addr, _, prefix = parts[parts.index("inet") + 1].partition("/")
            if not addr.startswith("127."):
                all_v4.append(addr)
            if iface == default_ipv4.get("interface") and "address" not in default_ipv4:
                default_ipv4.update(address=addr, prefix=prefix, alias=iface)
    py = s.get("python", [])
    env = _kv(s.get("env", []))
    date = s.get("date", ["0", "", ""]) + ["", "", ""]
    mounts = []
    for line in s.get("mounts", []):
        parts = line.split()
        if len(parts) >= 4:
            mounts.append({"device": parts[0], "mount": parts[1], "fstype": parts[2], "options": parts[3]})
    fqdn = hostname[1].strip() or hostname[0].strip()
    facts: dict[str, Any] = {
        "distribution": dist, "distribution_version": version,
        "distribution_major_version": version.split(".")[0] if version else "",
        "distribution_release": osr.get("VERSION_CODENAME", "") or osr.get("VERSION", "").split("(")[-1].rstrip(")"),
        "os_family": family, "system": uname[0], "kernel": uname[1], "kernel_version": uname[2],
        "architecture": uname[3], "machine": uname[3], "nodename": uname[4],
        "hostname": hostname[0].split(".")[0], "fqdn": fqdn, "domain": fqdn.partition(".")[2],
        "memtotal_mb": mem.get("MemTotal", 0), "memfree_mb": mem.get("MemFree", 0),
        "swaptotal_mb": mem.get("SwapTotal", 0), "swapfree_mb": mem.get("SwapFree", 0),
        "memory_mb": _memory_mb(mem),
        "processor_vcpus": _int((s.get("nproc") or ["0"])[0]) or _int(cpu[0]),
        "processor_count": max(1, _int(cpu[1])), "processor_cores": _int(cpu[2], 1),
        "user_id": ident[2], "user_uid": _int(ident[0]), "user_gid": _int(ident[1]), "user_dir": ident[3],
        "user_shell": ident[4], "pkg_mgr": pkg_mgr, "service_mgr": init if init else "unknown",
        "default_ipv4": default_ipv4, "all_ipv4_addresses": all_v4, "env": env,
        "selinux": {"status": (s.get("selinux") or ["disabled"])[0].strip().lower()},
        "virtualization_type": (s.get("virt") or ["none"])[0].strip(),
        "virtualization_role": "guest" if (s.get("virt") or ["none"])[0].strip() not in ("none", "") else "NA",
        "machine_id": (s.get("machine-id") or [""])[0].strip(),
        "date_time": {"epoch": date[0].strip(), "iso8601": date[1].strip(), "tz": date[2].strip()},
        "mounts": mounts, "os_release": osr,
    }
    # `python -V` ("Python 3.9.18", on stderr for Python 2) starts no site import: ~3 ms, not ~20
    version = re.search(r"(\d+)\.(\d+)\.(\d+)", py[1]) if len(py) >= 2 else None
    if version:
        facts["python"] = {"executable": py[0], "version": dict(zip(("major", "minor", "micro"),
                                                                   map(int, version.groups()), strict=True))}
        facts["python_version"] = ".".join(version.groups())
    return facts


def gather_facts(transport: Any, become: Any = None) -> dict[str, Any]:
    """Run the facts script on the host once and parse it.

    With `become` (a BecomeSpec; Ansible gathers as the play's become user) a wrong become
    password fails here, at the first contact, not at the first task that needs privileges.
    """
    result = transport.run(facts_script(), become=become)
    if "@@end" not in result.stdout:
        raise TransportError(f"gathering facts failed (rc={result.rc}): {result.stderr.strip()[:500]}")
    return parse_facts(result.stdout)
