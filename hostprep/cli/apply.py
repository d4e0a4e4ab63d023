"""`hostprep apply` (and `hostprep check`): run a playbook against an inventory."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hostprep.cli.connection import _ask, connection_options, pop_connection_options
from hostprep.cli.playflags import (
    PlayFlags,
    Stepper,
    flush_fact_cache,
    listing,
    play_flags,
    pop_play_flags,
    set_play_defaults,
    start_at_task,
)
from hostprep.cli.vaultopts import vault_options
from hostprep.config import ansible_cfg
from hostprep.errors import InputError

if TYPE_CHECKING:
    from hostprep.transport.options import ConnectionOptions


def _options(func):  # noqa: ANN001, ANN202 - click decorator stack
    decorators = [
        click.argument("playbook", required=False, default="site.yml", type=click.Path(path_type=Path)),
        click.option("-i", "--inventory", "inventories", multiple=True, help="Inventory source(s) (repeatable)."),
        click.option("-l", "--limit", help="Further limit hosts with a pattern (or @retry-file)."),
        click.option("-t", "--tags", "tags", multiple=True, help="Only tasks with these tags (comma list)."),
        click.option("--skip-tags", "skip_tags", multiple=True, help="Skip tasks with these tags."),
        click.option("-C", "--check", is_flag=True, help="Do not change hosts; report what would change."),
        click.option("-D", "--diff", is_flag=True, help="Show file and state differences."),
        click.option("-e", "--extra-vars", "extra_vars", multiple=True, help="k=v, @file.yml or JSON (repeatable)."),
        click.option("-f", "--forks", type=int, default=None,
                     help="Hosts worked on at once (default: ansible.cfg's forks, else 50)."),
        click.option("--json", "as_json", is_flag=True, help="JSON lines on stdout: one per result, then a summary."),
        click.option("--progress", type=click.Choice(["auto", "bar", "lines"]), default="auto", show_default=True,
                     help="bar: a live display (hosts done, changed, failed, current tasks) with only changed/failed/"
                          "unreachable lines (ok lines too up to 10 hosts or with -v); lines: Ansible-like lines; "
                          "auto: bar when stdout is a terminal and there is more than one host."),
        click.option("-v", "--verbose", count=True, help="More output (-vv, -vvv)."),
        click.option("--detailed-exitcode", is_flag=True,
                     help="Exit 2 when all hosts succeeded and something changed."),
        click.option("--syntax-check", is_flag=True, help="Only load and validate the playbook."),
        click.option("--list-tasks", is_flag=True, help="List the tasks and exit."),
        click.option("--no-fast-path", is_flag=True,
                     help="Probe task by task instead of batching the probes of the tasks ahead (for comparison)."),
        click.option("--retry-file", type=click.Path(dir_okay=False, path_type=Path),
                     help="Where to list failed hosts (default PLAYBOOK.retry beside the playbook, or "
                          "ansible.cfg's retry_files_save_path)."),
    ]
    for d in reversed(decorators):
        func = d(func)
    return func


def _split(values: tuple[str, ...]) -> set[str]:
    return {v.strip() for value in values for v in value.split(",") if v.strip()}


def run_apply(playbook: Path, inventories: tuple[str, ...], limit: str | None, tags: tuple[str, ...],
              skip_tags: tuple[str, ...], check: bool, diff: bool, extra_vars: tuple[str, ...], forks: int,
              as_json: bool, verbose: int, detailed_exitcode: bool, syntax_check: bool, list_tasks: bool,
              progress: str = "auto",
              retry_file: Path | None = None, no_fast_path: bool = False,
              connection: ConnectionOptions | None = None, flags: PlayFlags | None = None) -> int:
    from hostprep.cli.interrupt import EXIT_INTERRUPTED, InterruptHandler
    from hostprep.executor.play import PlaybookRunner, exit_code
    from hostprep.executor.state import RunOptions
    from hostprep.inventory import load_inventory
    from hostprep.output.choose import make_output, play_targets  # rich only if the live display is chosen
    from hostprep.output.human import banner
    from hostprep.playbook.loader import load_playbook, parse_extra_vars
    from hostprep.transport.connect import check_host

    flags = flags or PlayFlags()
    cfg = ansible_cfg.load()
    ansible_cfg.check_supported(cfg)
    if verbose:
        for note in ansible_cfg.notes(cfg):
            click.echo(note, err=True)
    # everything is loaded and checked before the first connection
    extra = parse_extra_vars(extra_vars)
    book = load_playbook(playbook, [Path(p) for p in cfg.get("roles_path")], extra)
    set_play_defaults(book, force_handlers=flags.force_handlers, gathering=str(cfg.get("gathering")).lower())
    if flags.start_at_task:
        start_at_task(book, flags.start_at_task)
    if syntax_check:
        click.echo(f"playbook: {playbook} (syntax OK)")
        return 0
    if (list_tasks or flags.list_tags) and not flags.list_hosts:
        click.echo(listing(book, None, hosts=False, tags=flags.list_tags, tasks=list_tasks, only=_split(tags),
                           skip=_split(skip_tags), limit=limit), nl=False)
        return 0
    inv = load_inventory(list(inventories) or ansible_cfg.default_inventory(cfg))
    if limit and not limit.startswith("@"):
        if not inv.select(limit):
            raise InputError(f"--limit {limit!r} matches no host of the inventory")
        for term in re.split(r"[:,]", limit):  # as Ansible: a name that matches nothing is warned about
            if term.strip() and term.strip()[0] not in "&!@" and not inv.select(term.strip()):
                click.echo(f"[WARNING]: Could not match supplied host pattern, ignoring: {term.strip()}", err=True)
    if flags.list_hosts:
        click.echo(listing(book, inv, hosts=True, tags=flags.list_tags, tasks=list_tasks, only=_split(tags),
                           skip=_split(skip_tags), limit=limit), nl=False)
        return 0
    from hostprep.executor.jsonfile_cache import from_config

    fact_cache, warning = from_config(cfg)
    if warning:
        click.echo(warning, err=True)
    if flags.flush_cache:
        flush_fact_cache(inv, limit, fact_cache)
    if forks is None:
        forks = cfg.get("forks") if cfg.is_set("forks") else 50
    options = RunOptions(check=check, diff=diff, forks=forks, tags=_split(tags), skip_tags=_split(skip_tags),
                         limit=limit, extra_vars=extra, verbosity=verbose, no_fast_path=no_fast_path,
                         connection=connection, step=Stepper() if flags.step else None,
                         strategy=cfg.get("strategy") if cfg.is_set("strategy") else None,
                         strategy_origin=cfg.origin("strategy"), gathering=str(cfg.get("gathering")).lower(),
                         fact_cache=fact_cache)
    targets = play_targets(book, inv, options)
    for name in sorted({name for hosts in targets for name in hosts}):
        check_host(name, inv.host_vars(name), connection)  # bad connection variables: refused before any contact
    output = make_output(progress, as_json=as_json, verbosity=verbose, diff=diff, targets=targets)
    runner = PlaybookRunner(book, inv, options, output)
    if verbose >= 2 and hasattr(output, "verbose"):  # as ansible-playbook -vv starts
        output.verbose(banner(f"PLAYBOOK: {playbook.name}"))
        output.verbose(f"{len(book.plays)} plays in {playbook}")
    if hasattr(output, "attach"):
        output.attach(runner)
    try:
        with InterruptHandler(runner.cancelled, output):  # Ctrl-C: stop cleanly; twice: abort (exit 130)
            stats = runner.run()
    finally:
        output.close()
    # the retry file lists the hosts to run again: failed, unreachable, or stopped by Ctrl-C
    failed = sorted(h for h, s in stats.items() if s.failed or s.unreachable or s.interrupted)
    retry = ansible_cfg.retry_path(playbook, retry_file, cfg)
    if failed and retry is not None:
        try:
            retry.parent.mkdir(parents=True, exist_ok=True)
            retry.write_text("".join(f"{h}\n" for h in failed))
            what = "interrupted and failed" if runner.cancelled.is_set() else "failed"
            click.echo(f"{what} hosts listed in {retry} (use --limit @{retry})", err=True)
        except OSError as exc:
            click.echo(f"could not write the retry file {retry}: {exc.strerror}", err=True)
    if runner.cancelled.is_set():
        return EXIT_INTERRUPTED
    return exit_code(stats, detailed_exitcode)


def _run_with_connection_options(kwargs: dict) -> int:
    from hostprep.cli.vaultopts import setup_vault

    setup_vault(kwargs)  # vault passwords first: inventories and playbooks may hold vaulted values
    # -u, -K, -b, ... travel with the run's options; the transport layers them under each host's variables
    connection = pop_connection_options(kwargs)
    ansible_cfg.fill_connection(connection, ask=_ask)  # ansible.cfg's remote_user, become, ... under the flags
    flags = pop_play_flags(kwargs, connection)
    return run_apply(**kwargs, connection=connection, flags=flags)


@click.command("apply")
@_options
@connection_options
@vault_options
@play_flags
def command(**kwargs) -> None:  # noqa: ANN003
    """Apply PLAYBOOK (default site.yml) to the inventory's hosts."""
    sys.exit(_run_with_connection_options(kwargs))


@click.command("check")
@_options
@connection_options
@vault_options
@play_flags
def check_command(**kwargs) -> None:  # noqa: ANN003
    """Like apply --check: report what would change, change nothing."""
    kwargs["check"] = True
    sys.exit(_run_with_connection_options(kwargs))
