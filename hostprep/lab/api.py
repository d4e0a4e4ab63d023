"""The lab's Python API: boot hosts, write their inventory, take them down.

Used by `hostprep lab`, by the test suites (tests/conftest.py's `lab` fixture) and by the
Molecule scenarios, so all of them get the same hosts the same way.
"""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hostprep.errors import HostprepError, InputError
from hostprep.lab import host as hostmod
from hostprep.lab import network, paths
from hostprep.lab import vm as vmmod
from hostprep.lab.image import resolve_image

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,40}$")


@dataclass
class LabHost:
    """A booted lab host and the Ansible connection variables that reach it."""

    name: str
    address: str
    flavor: str
    host_key: str
    deploy_password: str = field(repr=False)
    backend: str = "nspawn"

    @property
    def hostvars(self) -> dict[str, Any]:
        return {
            "ansible_host": self.address,
            "ansible_port": 22,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(paths.KEY),
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={paths.KNOWN_HOSTS} -o StrictHostKeyChecking=yes",
            "lab_flavor": self.flavor,
        }

    @property
    def deploy_hostvars(self) -> dict[str, Any]:
        hv = dict(self.hostvars)
        hv.update(ansible_user="deploy", ansible_become=True, ansible_become_password=self.deploy_password)
        return hv

    @classmethod
    def from_record(cls, rec: hostmod.HostRecord) -> LabHost:
        return cls(rec.name, rec.address, rec.flavor, rec.host_key, rec.deploy_password,
                   "vm" if vmmod.is_vm(rec) else "nspawn")


@contextmanager
def _lock() -> Iterator[None]:
    paths.STATE.mkdir(parents=True, exist_ok=True)
    with open(paths.STATE / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_known_hosts() -> None:
    """known_hosts of every running lab host, with each host's real key (atomic)."""
    lines = [f"{r.address} {r.host_key}\n" for r in hostmod.all_records() if r.host_key]
    tmp = paths.KNOWN_HOSTS.with_suffix(".tmp")
    tmp.write_text("".join(lines))
    tmp.replace(paths.KNOWN_HOSTS)


def lab_vars() -> dict[str, Any]:
    """Variables that point roles at the lab's own package mirror instead of the internet."""
    out: dict[str, Any] = {
        "lab_repo_url": paths.REPO_URL,
        "docker_repo_base_url": f"{paths.REPO_URL}/linux/centos",
        "docker_compose_pip_extra_args": f"--index-url {paths.REPO_URL}/pypi/simple/ "
                                          f"--trusted-host {paths.BRIDGE_ADDRESS}",
    }
    from hostprep.lab.repo import lab_key_fingerprint

    out["docker_gpg_fingerprint"] = lab_key_fingerprint()
    return out


def write_inventory(hosts: list[LabHost], path: Path, group: str) -> Path:
    """An Ansible YAML inventory of `hosts` in group `group` (and a group per flavour)."""
    flavors: dict[str, dict[str, Any]] = {}
    for h in hosts:
        flavors.setdefault(h.flavor, {"hosts": {}})["hosts"][h.name] = None
    host_entries = {}
    for h in hosts:
        hv = {k: v for k, v in h.hostvars.items()}
        hv["lab_deploy_user"] = "deploy"
        hv["lab_deploy_password"] = h.deploy_password
        host_entries[h.name] = hv
    inventory = {
        "all": {
            "vars": lab_vars(),
            "children": {
                group: {"hosts": host_entries, "children": {}},
                **{f: {"hosts": v["hosts"]} for f, v in flavors.items()},
            },
        }
    }
    del inventory["all"]["children"][group]["children"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("# written by hostprep lab up\n" + yaml.safe_dump(inventory, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(path)
    return path


# every lab host runs its own systemd, which needs inotify instances; the kernel's default of 128
# per user stops a few dozen hosts from booting ("Failed to allocate manager object")
SYSCTL_FLOORS = {"fs/inotify/max_user_instances": 8192, "fs/inotify/max_user_watches": 1048576}


def _raise_kernel_limits() -> None:
    for key, floor in SYSCTL_FLOORS.items():
        path = Path("/proc/sys") / key
        try:
            if int(path.read_text()) < floor:
                path.write_text(str(floor))
        except (OSError, ValueError):
            pass


def _host_names(name: str, n: int) -> list[str]:
    if not NAME_RE.match(name):
        raise InputError(f"lab name {name!r} must be lower-case letters, digits and dashes", key="--name")
    return [name] if n == 1 else [f"{name}-{i}" for i in range(1, n + 1)]


def up(n: int = 1, flavor: str = "el9", name: str = "lab", inventory: Path | None = None,
       timeout: float = 90.0, backend: str = "nspawn", registry: bool = False) -> list[LabHost]:
    """Boot `n` hosts of `flavor` named NAME (n=1) or NAME-1..NAME-n; write `inventory` if given.

    `backend` "nspawn" (default) boots systemd-nspawn containers; "vm" boots the same image as
    QEMU VMs under software emulation (hostprep/lab/vm.py), with the same inventory output.
    `registry`: the lab registry is started (unless it runs) and each host trusts it and is logged in
    (hostprep/lab/registry.py install_on).
    """
    if n < 1:
        raise InputError("need at least one host", key="-n")
    if backend not in ("nspawn", "vm"):
        raise InputError(f"unknown lab backend {backend!r} (nspawn or vm)", key="--backend")
    names = _host_names(name, n)
    _raise_kernel_limits()
    image = resolve_image(flavor)
    new_record, boot = hostmod.new_record, hostmod.boot
    if backend == "vm":
        vmmod.prepare(flavor)  # kernel, initramfs, base disk: cached, built before any host is recorded
        new_record, boot, timeout = vmmod.new_record, vmmod.boot, max(timeout, vmmod.BOOT_TIMEOUT)
    hostmod.ensure_key()
    with _lock():
        existing = {r.name: r for r in hostmod.all_records()}
        clash = [x for x in names if x in existing]
        if clash:
            raise HostprepError(f"lab hosts already exist: {', '.join(clash)} (hostprep lab down --name {name})")
        used = {r.index for r in existing.values()}
        records = []
        index = 1
        for host_name in names:
            while index in used:
                index += 1
            used.add(index)
            records.append(new_record(host_name, flavor, index, image))
            records[-1].dir.mkdir(parents=True, exist_ok=True)
            records[-1].save()
        network.ensure_bridge()
    _ensure_repo_served()
    if registry:
        from hostprep.lab import registry as labregistry

        labregistry.up()
    booted: list[hostmod.HostRecord] = []
    errors: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=min(16, n)) as pool:
        futures = [pool.submit(boot, r, timeout) for r in records]
        for fut in futures:
            try:
                booted.append(fut.result())
            except BaseException as exc:  # noqa: BLE001 - collect, then clean up every host
                errors.append(exc)
    with _lock():
        _write_known_hosts()
    if errors:
        down(names=[r.name for r in booted])
        raise HostprepError(f"lab up failed: {errors[0]}")
    hosts = [LabHost.from_record(r) for r in booted]
    if registry:
        _install_registry(hosts)
    if inventory is not None:
        write_inventory(hosts, Path(inventory), group=name.replace("-", "_"))
    return hosts


def _install_registry(hosts: list[LabHost]) -> None:
    from hostprep.lab import registry as labregistry

    with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
        futures = [pool.submit(labregistry.install_on, h.address) for h in hosts]
        errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        down(names=[h.name for h in hosts])
        raise HostprepError(f"lab up failed: {errors[0]}")


def _ensure_repo_served() -> None:
    from hostprep.lab.repo import ensure_served

    ensure_served(paths.BRIDGE_ADDRESS, paths.REPO_PORT)


def list_hosts() -> list[LabHost]:
    return [LabHost.from_record(r) for r in hostmod.all_records()]


def _destroy(rec: hostmod.HostRecord) -> list[str]:
    return vmmod.destroy(rec) if vmmod.is_vm(rec) else hostmod.destroy(rec)


def down(name: str | None = None, names: list[str] | None = None, all: bool = False) -> list[str]:  # noqa: A002
    """Remove hosts named NAME / NAME-*, or `names`, or all; returns what could not be removed."""
    records = hostmod.all_records()
    if all:
        chosen = records
    else:
        wanted = set(names or [])
        chosen = [r for r in records if r.name in wanted or (name and (r.name == name or
                  re.fullmatch(re.escape(name) + r"-\d+", r.name)))]
    left: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(chosen)))) as pool:
        for result in pool.map(_destroy, chosen):
            left += result
    with _lock():
        if paths.HOSTS.exists():
            for d in paths.HOSTS.iterdir():
                if d.is_dir() and not (d / "meta.json").exists() and not any(d.iterdir()):
                    d.rmdir()
        if not hostmod.all_records():
            network.remove_bridge()
            from hostprep.lab.repo import stop_served

            stop_served()
        _write_known_hosts()
    return left
