"""`hostprep lab ...`: disposable offline EL-like test hosts on this machine."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table


@click.group("lab")
def command() -> None:
    """Disposable lab hosts (systemd-nspawn, or QEMU VMs) that emulate EL7/EL8/EL9, offline."""
    if os.geteuid() != 0:
        raise click.ClickException("the lab needs root (namespaces, mounts, cgroups)")


@command.group("image")
def image() -> None:
    """Lab images."""


@image.command("build")
@click.option("--flavor", type=click.Choice(["el7", "el8", "el9", "debian12"]), default="el9", show_default=True)
@click.option("--rebuild", is_flag=True, help="Build even if a cached image matches the recipe.")
@click.option("--image", "image_tar", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Use this root filesystem tar (e.g. a real EL image) as the flavour instead.")
def image_build(flavor: str, rebuild: bool, image_tar: Path | None) -> None:
    """Build (or find in the cache) a lab image."""
    from hostprep.lab.image import build_image, import_image

    started = time.monotonic()
    root = import_image(image_tar, flavor) if image_tar else build_image(flavor, rebuild=rebuild)
    click.echo(f"{flavor}: {root} ({time.monotonic() - started:.1f}s)")


@command.command("base-image")
@click.argument("flavor", type=click.Choice(["el7", "el8", "el9"]), default="el7")
@click.option("--tag", help="Name in hostprep-runtime's store (default: centos:7, centos:8, centos:stream9).")
@click.option("--push", is_flag=True, help="Also push it to the lab registry (10.231.0.1:5000/lab/TAG).")
def base_image(flavor: str, tag: str | None, push: bool) -> None:
    """Import a flavour's image tree into hostprep-runtime as a base image (el7: centos:7), and bring up
    the lab repository its yum reads (build with `hostprep-runtime build --network host`)."""
    from hostprep.lab.baseimage import import_base, push_base

    started = time.monotonic()
    name, image_id = import_base(flavor, tag)
    pushed = push_base(flavor, name) if push else ""
    click.echo(f"{name}\t{image_id}\t{pushed}\t({time.monotonic() - started:.1f}s)")


@command.group("registry")
def registry() -> None:
    """The lab's container registry (docker-registry, TLS and htpasswd, on the lab bridge)."""


@registry.command("up")
def registry_up() -> None:
    """Serve the registry on 10.231.0.1:5000 (started once; data kept across down/up)."""
    from hostprep.lab import registry as labregistry

    info = labregistry.up()
    click.echo(f"{info['address']}\tuser {info['user']}\tpassword in {info['password_file']}\tCA {info['ca']}")


@registry.command("down")
@click.option("--purge", is_flag=True, help="Also remove its data, certificates and password.")
def registry_down(purge: bool) -> None:
    """Stop the lab registry."""
    from hostprep.lab import registry as labregistry

    labregistry.down(purge=purge)


@command.command("up")
@click.option("-n", "count", default=1, show_default=True, help="Number of hosts.")
@click.option("--flavor", type=click.Choice(["el7", "el8", "el9", "debian12"]), default="el9", show_default=True)
@click.option("--name", default="lab", show_default=True, help="Host name (n=1) or prefix NAME-1..NAME-n.")
@click.option("--inventory", type=click.Path(dir_okay=False, path_type=Path), help="Write an Ansible inventory here.")
@click.option("--backend", type=click.Choice(["nspawn", "vm"]), default="nspawn", show_default=True,
              help="nspawn: containers (seconds to boot); vm: QEMU VMs with their own kernel (TCG, ~20-40 s).")
@click.option("--registry", is_flag=True,
              help="Also start the lab registry (10.231.0.1:5000); the hosts trust its CA and are logged in.")
def up(count: int, flavor: str, name: str, inventory: Path | None, backend: str, registry: bool) -> None:
    """Boot lab hosts and (optionally) write their inventory."""
    from hostprep.lab.api import up as lab_up

    started = time.monotonic()
    hosts = lab_up(count, flavor, name, inventory, backend=backend, registry=registry)
    for h in hosts:
        click.echo(f"{h.name}\t{h.address}\t{h.flavor}\t{h.backend}")
    click.echo(f"{len(hosts)} host(s) up in {time.monotonic() - started:.1f}s"
               + (f"; inventory: {inventory}" if inventory else ""))


@command.command("down")
@click.option("--name", help="Remove hosts NAME and NAME-<n>.")
@click.option("--all", "everything", is_flag=True, help="Remove every lab host.")
@click.argument("hosts", nargs=-1)
def down(name: str | None, everything: bool, hosts: tuple[str, ...]) -> None:
    """Remove lab hosts, leaving nothing behind."""
    from hostprep.lab.api import down as lab_down

    if not (name or everything or hosts):
        raise click.UsageError("name hosts, or give --name PREFIX or --all")
    left = lab_down(name=name, names=list(hosts), all=everything)
    if left:
        click.echo("left behind: " + ", ".join(left), err=True)
        sys.exit(1)


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable: name, address, flavor, user, key.")
def list_(as_json: bool) -> None:
    """Show running lab hosts."""
    from hostprep.lab import paths
    from hostprep.lab.api import list_hosts

    if as_json:
        import json

        click.echo(json.dumps([{"name": h.name, "address": h.address, "flavor": h.flavor, "user": "root",
                                "port": 22, "identity_file": str(paths.KEY), "known_hosts": str(paths.KNOWN_HOSTS),
                                "backend": h.backend}
                               for h in list_hosts()], indent=2))
        return
    table = Table()
    for col in ("name", "address", "flavor", "backend"):
        table.add_column(col)
    for h in list_hosts():
        table.add_row(h.name, h.address, h.flavor, h.backend)
    Console().print(table)


@command.command("ssh", context_settings={"ignore_unknown_options": True})
@click.option("--user", default="root", show_default=True)
@click.argument("host")
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED)
def ssh(user: str, host: str, cmd: tuple[str, ...]) -> None:
    """Log in to a lab host (or run CMD there) with the lab key and known_hosts."""
    from hostprep.lab import paths
    from hostprep.lab.api import list_hosts

    match = [h for h in list_hosts() if h.name == host]
    if not match:
        raise click.ClickException(f"no lab host named {host}")
    args = ["ssh", "-i", str(paths.KEY), "-o", f"UserKnownHostsFile={paths.KNOWN_HOSTS}",
            "-o", "StrictHostKeyChecking=yes", f"{user}@{match[0].address}", *cmd]
    os.execvp("ssh", args)
