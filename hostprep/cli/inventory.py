"""`hostprep inventory -i SRC --list | --host NAME | --graph`: the same JSON as ansible-inventory."""

from __future__ import annotations

import click

from hostprep.cli.vaultopts import setup_vault, vault_options


@click.command("inventory")
@click.option("-i", "--inventory", "sources", multiple=True,
              help="Inventory source(s) (default: ansible.cfg's inventory, else /etc/ansible/hosts).")
@click.option("--list", "as_list", is_flag=True, help="Every group and host, with host variables.")
@click.option("--host", help="The variables of one host.")
@click.option("--graph", is_flag=True, help="The group tree.")
@click.option("--export", is_flag=True, help="With --list: group variables on groups, not merged into hosts.")
@click.option("-l", "--limit", help="Only hosts matching this pattern.")
@vault_options
def command(sources: tuple[str, ...], as_list: bool, host: str | None, graph: bool, export: bool,
            limit: str | None, **vault: object) -> None:
    """Show an inventory the way ansible-inventory does."""
    from hostprep.config.ansible_cfg import default_inventory
    from hostprep.inventory import load_inventory

    setup_vault(vault)
    inv = load_inventory(list(sources) or default_inventory())
    if limit:
        keep = {h.name for h in inv.select(limit)}
        for name in list(inv.hosts):
            if name not in keep:
                for g in inv.groups.values():
                    if name in g.hosts:
                        g.hosts.remove(name)
                del inv.hosts[name]
    if host:
        if host not in inv.hosts:
            raise click.ClickException(f"host {host!r} is not in the inventory")
        click.echo(inv.dumps(inv.host_json(host)))
    elif graph:
        click.echo(inv.graph_text())
    elif as_list:
        click.echo(inv.dumps(inv.list_json(export=export)))
    else:
        raise click.UsageError("give --list, --host NAME or --graph")
