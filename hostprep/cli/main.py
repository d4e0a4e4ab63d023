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
