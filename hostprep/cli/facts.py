"""`hostprep facts -i INV [PATTERN]`: the facts of hosts, gathered in one round trip each."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import click


@click.command("facts")
@click.option("-i", "--inventory", "inventories", multiple=True, required=True)
@click.argument("pattern", default="all")
def command(inventories: tuple[str, ...], pattern: str) -> None:
    """Print each host's facts as JSON (keys as in ansible_facts)."""
    from hostprep.errors import HostprepError
    from hostprep.facts import gather_facts
    from hostprep.inventory import load_inventory
    from hostprep.transport.connect import open_transport

    inv = load_inventory(list(inventories))
    hosts = inv.select(pattern)

    def one(name: str) -> tuple[str, dict]:
        t = open_transport(name, inv.host_vars(name))
        try:
            return name, gather_facts(t)
        except HostprepError as exc:
            return name, {"failed": True, "msg": str(exc)}
        finally:
            t.close()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = dict(pool.map(one, [h.name for h in hosts]))
    click.echo(json.dumps(results, indent=2, sort_keys=True, default=str))
