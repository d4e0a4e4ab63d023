"""`hostprep run PATTERN -m MODULE -a ARGS`: one module on matching hosts, the `ansible` command's job.

The task goes through the same loading (argument checks before any host is contacted), executor
and transport as a playbook's; the output is the ad-hoc form: `host | SUCCESS => {...}`, or
`host | CHANGED | rc=0 >>` with the command's output for command/shell/raw.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

import click

from hostprep.cli.connection import _ask, connection_options, pop_connection_options
from hostprep.cli.playflags import pop_play_flags
from hostprep.cli.vaultopts import setup_vault, vault_options
from hostprep.errors import InputError
from hostprep.output.events import CENSORED, HostStats, TaskEvent, censor

COMMANDS = ("command", "shell", "raw")


class AdhocOutput:
    """Ansible's ad-hoc lines: one block per host result."""

    def __init__(self, module: str, one_line: bool = False) -> None:
        self.module = module
        self.one_line = one_line
        self._lock = threading.Lock()

    def play(self, name: str) -> None: ...
    def header(self, title: str, handler: bool = False, path: str | None = None) -> None: ...
    def verbose(self, text: str, level: int = 2) -> None: ...
    def ignoring(self, host: str) -> None: ...
    def no_hosts_matched(self) -> None: ...
    def no_hosts_left(self) -> None: ...
    def included(self, what: str, hosts: list[str], label: Any, title: str) -> None: ...
    def close(self) -> None: ...
    def interrupted(self) -> None: ...
    def abort(self) -> None: ...
    def recap(self, stats: dict[str, HostStats]) -> None: ...

    def warn(self, text: str) -> None:
        click.echo(f"[WARNING]: {text}", err=True)

    def event(self, ev: TaskEvent) -> None:
        result = {"censored": CENSORED} if ev.no_log else {k: v for k, v in censor(ev.result).items()
                                                           if not k.startswith("_")}
        word = {"ok": "SUCCESS", "changed": "CHANGED", "failed": "FAILED", "skipped": "SKIPPED",
                "unreachable": "UNREACHABLE"}[ev.status]
        if ev.status == "unreachable":
            result = {"changed": False, "msg": result.get("msg"), "unreachable": True}
        if self.module in COMMANDS and ev.status in ("ok", "changed", "failed") and "rc" in result:
            if self.one_line:
                text = f"{ev.host} | {word} | rc={result['rc']} | (stdout) {_escaped(result.get('stdout', ''))}"
                if result.get("stderr"):
                    text += f" (stderr) {_escaped(result['stderr'])}"
            else:  # as Ansible's minimal output: stdout, stderr and msg run together
                text = f"{ev.host} | {word} | rc={result['rc']} >>\n{result.get('stdout', '')}" \
                       f"{result.get('stderr', '')}{result.get('msg', '') if ev.status == 'failed' else ''}"
        elif self.one_line:
            flat = json.dumps(result, indent=0, sort_keys=True, default=str).replace("\n", "")
            text = f"{ev.host} | {word}{'!' if ev.status in ('failed', 'unreachable') else ''} => {flat}"
        else:
            text = f"{ev.host} | {word}{'!' if ev.status in ('failed', 'unreachable') else ''} => " \
                   f"{json.dumps(result, indent=4, sort_keys=True, default=str)}"
        with self._lock:
            click.echo(text, err=ev.status in ("failed", "unreachable"))


def _escaped(text: str) -> str:
    return text.replace("\n", "\\n")


def _adhoc_playbook(pattern: str, module: str, args: str | None, basedir: Path) -> Any:
    """A one-task play, loaded and checked like a playbook's."""
    from hostprep.playbook.loader import LoadContext
    from hostprep.playbook.model import Play, Playbook
    from hostprep.playbook.tasks import TaskSource, parse_task

    ctx = LoadContext(basedir)
    src = TaskSource(basedir / "(ad-hoc)")
    task_data: dict[str, Any] = {module: args if args else None}
    task = parse_task(task_data, ctx, src)
    play = Play(name="Ansible Ad-Hoc", hosts=pattern, keywords={"gather_facts": False}, vars={}, vars_files=[],
                pre_tasks=[], roles=[], tasks=[task], post_tasks=[], handlers=[], file="(ad-hoc)", line=None,
                basedir=basedir)
    return Playbook(path=basedir / "(ad-hoc)", plays=[play])


@click.command("run")
@click.argument("pattern")
@click.option("-i", "--inventory", "inventories", multiple=True,
              help="Inventory source(s) (default: ansible.cfg's inventory, else /etc/ansible/hosts).")
@click.option("-m", "--module-name", "module", default="command", show_default=True, help="Module to run.")
@click.option("-a", "--args", "module_args", help="Module arguments: k=v text, or the command for command/shell.")
@click.option("-l", "--limit", help="Further limit hosts with a pattern.")
@click.option("-e", "--extra-vars", "extra_vars", multiple=True, help="k=v, @file.yml or JSON (repeatable).")
@click.option("-f", "--forks", type=int, default=None, help="Hosts worked on at once.")
@click.option("-C", "--check", is_flag=True, help="Do not change hosts; report what would change.")
@click.option("-D", "--diff", is_flag=True, help="Show differences.")
@click.option("-o", "--one-line", is_flag=True, help="One line per host.")
@click.option("--list-hosts", is_flag=True, help="List the hosts PATTERN (and --limit) select, and exit.")
@click.option("-v", "--verbose", count=True, help="More output.")
@click.option("-c", "--connection", "connection_type", type=click.Choice(["ssh", "smart", "paramiko", "local"]),
              help="Connection type for hosts that set no ansible_connection.")
@click.option("--ssh-common-args", help="Extra ssh options for every host.")
@click.option("--ssh-extra-args", help="Like --ssh-common-args.")
@connection_options
@vault_options
def command(pattern: str, inventories: tuple[str, ...], module: str, module_args: str | None, limit: str | None,
            extra_vars: tuple[str, ...], forks: int | None, check: bool, diff: bool, one_line: bool, list_hosts: bool,
            verbose: int, **kwargs: Any) -> None:
    """Run one MODULE (default command) on the hosts matching PATTERN."""
    from hostprep.cli.interrupt import EXIT_INTERRUPTED, InterruptHandler
    from hostprep.config import ansible_cfg
    from hostprep.executor.play import PlaybookRunner, exit_code
    from hostprep.executor.state import RunOptions
    from hostprep.inventory import load_inventory
    from hostprep.playbook.loader import parse_extra_vars

    setup_vault(kwargs)
    kwargs["extra_vars"] = extra_vars
    connection = pop_connection_options(kwargs)
    cfg = ansible_cfg.load()
    ansible_cfg.check_supported(cfg)
    ansible_cfg.fill_connection(connection, ask=_ask, cfg=cfg)
    pop_play_flags(kwargs, connection)
    inv = load_inventory(list(inventories) or ansible_cfg.default_inventory(cfg))
    selected = inv.select(pattern)
    if limit:
        allowed = {h.name for h in inv.select(limit)}
        selected = [h for h in selected if h.name in allowed]
    if list_hosts:  # as `ansible PATTERN --list-hosts`: before the module's arguments are looked at, 0 even for none
        if not selected:
            click.echo("[WARNING]: No hosts matched, nothing to do", err=True)
        click.echo(f"  hosts ({len(selected)}):")
        for host in selected:
            click.echo(f"    {host.name}")
        return
    if module in COMMANDS and not module_args:
        raise InputError(f"no command given: -a 'COMMAND' is required with -m {module}", key="-a")
    book = _adhoc_playbook(pattern, module, module_args, Path.cwd())
    if not selected:
        raise InputError(f"no hosts matched {pattern!r}" + (f" with --limit {limit!r}" if limit else ""))
    if forks is None:
        forks = cfg.get("forks") if cfg.is_set("forks") else 50
    options = RunOptions(check=check, diff=diff, forks=forks, limit=limit, extra_vars=parse_extra_vars(extra_vars),
                         verbosity=verbose, connection=connection)
    output = AdhocOutput(module.rsplit(".", 1)[-1], one_line)
    runner = PlaybookRunner(book, inv, options, output)
    with InterruptHandler(runner.cancelled, output):
        stats = runner.run()
    sys.exit(EXIT_INTERRUPTED if runner.cancelled.is_set() else exit_code(stats, False))
