"""`hostprep facts -i INV [PATTERN]`: the facts of hosts, gathered in one round trip each."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import click

from hostprep.cli.connection import connection_options, pop_connection_options
from hostprep.cli.vaultopts import setup_vault, vault_options


@click.command("facts")
@click.option("-i", "--inventory", "inventories", multiple=True, required=True)
@click.argument("pattern", default="all")
@connection_options
@vault_options
def command(inventories: tuple[str, ...], pattern: str, **kwargs: Any) -> None:
    """Print each host's facts as JSON (keys as in ansible_facts), gathered with become if -b says so."""
    from hostprep.errors import HostprepError, InputError, UnreachableError
    from hostprep.facts import gather_facts
    from hostprep.inventory import load_inventory
    from hostprep.transport.connect import become_from_vars, open_transport

    setup_vault(kwargs)  # an inventory may hold vaulted values
    cli = pop_connection_options(kwargs)
    inv = load_inventory(list(inventories))
    hosts = inv.select(pattern)
    if not hosts:
        raise InputError(f"no hosts matched {pattern!r}")  # bad input: exit 3, not an empty success

    def one(name: str) -> tuple[str, dict]:
        hostvars = inv.host_vars(name)
        t = open_transport(name, hostvars, cli)
        try:
            return name, gather_facts(t, become=become_from_vars(hostvars, cli=cli))
        except UnreachableError as exc:
            return name, {"unreachable": True, "msg": str(exc)}
        except HostprepError as exc:
            return name, {"failed": True, "msg": str(exc)}
        finally:
            t.close()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = dict(pool.map(one, [h.name for h in hosts]))
    click.echo(json.dumps(results, indent=2, sort_keys=True, default=str))
    # the exit codes of apply: 1 a host failed, 4 a host was unreachable
    if any(r.get("failed") for r in results.values()):
        raise SystemExit(1)
    if any(r.get("unreachable") for r in results.values()):
        raise SystemExit(4)
