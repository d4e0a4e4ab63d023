"""Entry point of `hostprep`: a click group whose subcommands load lazily.

Each subcommand lives in its own module under hostprep/cli/ (apply.py, inventory.py, lab.py,
...) exposing a click command or group named `command`; loading them lazily keeps
`hostprep --help` fast and lets each part of the project own its CLI.
"""

from __future__ import annotations

import importlib
import sys

import click

from hostprep.errors import HostprepError

# subcommand name -> module under hostprep.cli that defines `command`
SUBCOMMANDS: dict[str, str] = {
    "apply": "apply",
    "check": "apply",
    "inventory": "inventory",
    "facts": "facts",
    "doc": "doc",
    "lab": "lab",
    "verify": "verify",
    "init": "init",
    "vault": "vault",
    "run": "adhoc",
}

# what `hostprep --help` shows for each subcommand, without importing it (lab, vault and verify pull in
# rich, cryptography and testinfra); tests/unit/test_startup_imports.py checks it against each command
SUMMARIES: dict[str, str] = {
    "apply": "Apply PLAYBOOK (default site.yml) to the inventory's hosts.",
    "check": "Like apply --check: report what would change, change nothing.",
    "doc": "List modules, or show one module's arguments, return values and examples.",
    "facts": "Print each host's facts as JSON (keys as in ansible_facts), gathered with become if -b says so.",
    "init": "Make a starter project in DIRECTORY (default: here): site.yml, an example inventory, templates/.",
    "inventory": "Show an inventory the way ansible-inventory does.",
    "lab": "Disposable lab hosts (systemd-nspawn, or QEMU VMs) that emulate EL7/EL8/EL9, offline.",
    "run": "Run one MODULE (default command) on the hosts matching PATTERN.",
    "vault": "Vault files and values, as ansible-vault writes and reads them.",
    "verify": "Check hosts after a rollout with the bundled testinfra suites; exit 1 if any host fails.",
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = SUBCOMMANDS.get(cmd_name)
        if module_name is None:
            return None
        try:
            module = importlib.import_module(f"hostprep.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"hostprep.cli.{module_name}":
                return None
            raise
        attr = "check_command" if cmd_name == "check" else "command"
        return getattr(module, attr, None)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The Commands section from SUMMARIES: `--help` loads no subcommand module."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)  # click's own truncation
        rows = [(name, click.Command(name, help=SUMMARIES.get(name, "")).get_short_help_str(limit)) for name in names]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hostprep", prog_name="hostprep")  # the installed distribution's version
def cli() -> None:
    """hostprep: Ansible-style provisioning over SSH."""


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; HostprepError becomes a one-line message and exit code 3 (bad input)."""
    try:
        cli.main(args=argv, prog_name="hostprep", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        # a usage error is bad input: 3, never 2 (2 means "changed" under --detailed-exitcode)
        sys.exit(3 if isinstance(exc, click.UsageError) else exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except HostprepError as exc:
        click.echo(f"ERROR: {exc}", err=True)
        sys.exit(getattr(exc, "exit_code", 3))  # bad input: 3; an error that ended a run (PlaybookError): 1


if __name__ == "__main__":
    main()
