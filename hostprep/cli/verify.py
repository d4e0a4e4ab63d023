"""`hostprep verify -i INV [--limit PATTERN]`: testinfra checks of converged hosts, as a table."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from hostprep.cli.vaultopts import setup_vault, vault_options


@click.command("verify")
@click.option("-i", "--inventory", "inventories", multiple=True, required=True, help="Inventory source(s).")
@click.option("-l", "--limit", default="all", show_default=True, help="Host pattern.")
@click.option("-f", "--forks", default=20, show_default=True, help="Hosts checked at once.")
@click.option("--suite", "suites", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="testinfra files to run instead of the bundled docker and runtime suites.")
@click.option("-v", "--verbose", is_flag=True, help="Show each failed host's pytest output.")
@vault_options
def command(inventories: tuple[str, ...], limit: str, forks: int, suites: tuple[Path, ...], verbose: bool,
            **vault: object) -> None:
    """Check hosts after a rollout with the bundled testinfra suites; exit 1 if any host fails."""
    from hostprep.inventory import load_inventory
    from hostprep.verify.expectations import docker_expectations
    from hostprep.verify.runner import missing_tools, verify_hosts
    from hostprep.verify.runtime_expectations import runtime_expectations

    missing = missing_tools()
    if missing:
        raise click.ClickException(f"hostprep verify runs the testinfra suites with {' and '.join(missing)}, which "
                                   f"are not installed: pip install {' '.join(missing)} (or reinstall hostprep "
                                   "with its dependencies)")
    setup_vault(vault)  # an inventory may hold vaulted values
    inv = load_inventory(list(inventories))
    selected = inv.select(limit)
    if not selected:
        raise click.ClickException(f"no hosts match {limit!r}")
    hosts = {h.name: inv.host_vars(h.name) for h in selected}
    expectations = {name: {**docker_expectations(hv), "runtime": runtime_expectations(hv)}
                    for name, hv in hosts.items()}
    reports = verify_hosts(hosts, expectations, suites=list(suites) or None, forks=forks)
    console = Console()
    table = Table(title="hostprep verify")
    for col in ("host", "result", "passed", "failed", "failed checks"):
        table.add_column(col)
    for r in reports:
        if r.unreachable is not None:
            table.add_row(r.host, "[red]UNREACHABLE[/]", "-", "-", r.unreachable)
            continue
        table.add_row(r.host, "[green]PASS[/]" if r.ok else "[red]FAIL[/]", str(r.passed),
                      str(r.failed + r.errors), ", ".join(r.failures))
    console.print(table)
    if verbose:
        for r in reports:
            if not r.ok:
                console.rule(r.host)
                console.print(r.output, markup=False, highlight=False)
    if any(not r.ok and r.unreachable is None for r in reports):
        sys.exit(1)
    sys.exit(4 if any(r.unreachable is not None for r in reports) else 0)  # apply's codes: 4 unreachable
