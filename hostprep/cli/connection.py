"""Connection and become options of `hostprep apply`/`check`: -u, --private-key, -k, -K, -b, ...

They become a `ConnectionOptions` (hostprep/transport/options.py), handed to the executor in
`RunOptions.connection`, that the transport layers *under* every host's variables, as Ansible
does: an inventory `ansible_user` beats `-u`, a host's `ansible_become_password` beats `-K`, and
`-e ansible_user=x` beats both.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Any

import click

from hostprep.transport.become import METHODS
from hostprep.transport.options import CONNECTION_VARS, ConnectionOptions

OPTION_NAMES = ("user", "private_key", "ask_pass", "ask_become_pass", "become", "become_user", "become_method",
                "host_key_policy", "ssh_config", "timeout")


def connection_options(func):  # noqa: ANN001, ANN202 - click decorator stack
    decorators = [
        click.option("-u", "--user", help="Connect as this user (a host's ansible_user wins)."),
        click.option("--private-key", "--key-file", "private_key", type=click.Path(dir_okay=False),
                     help="SSH private key file (a host's ansible_ssh_private_key_file wins)."),
        click.option("-k", "--ask-pass", is_flag=True,
                     help="Ask once for the SSH password (read from stdin when there is no terminal)."),
        click.option("-K", "--ask-become-pass", is_flag=True,
                     help="Ask once for the become password (sudo's, or root's for su), used for every host "
                          "that sets none itself."),
        click.option("-b", "--become", is_flag=True, default=None,
                     help="Run tasks with become: sudo, or su with --become-method su (a play's or task's "
                          "become: wins)."),
        click.option("--become-user", help="Become this user (default root; become_user: in a play wins)."),
        click.option("--become-method", type=click.Choice(sorted(METHODS)),
                     help="sudo (the default) or su (a play's become_method: or ansible_become_method wins)."),
        click.option("--host-key-policy", type=click.Choice(["strict", "accept-new", "off"]),
                     help="Unknown host keys: refuse (strict, the default), record (accept-new), or accept "
                          "without checking (off, warns). A changed key is always refused."),
        click.option("-F", "--ssh-config", type=click.Path(exists=True, dir_okay=False),
                     help="Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config."),
        click.option("-T", "--timeout", type=click.FloatRange(min=0.1),
                     help="SSH connect timeout in seconds (default 10; a host's ansible_timeout wins)."),
    ]
    for d in reversed(decorators):
        func = d(func)
    return func


def _ask(prompt: str) -> str:
    """A password from the terminal without echo, or else one line of stdin (like Ansible)."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt, stream=sys.stderr)
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    sys.stderr.write("\n")
    if not line:
        raise click.UsageError(f"{prompt.strip()} nothing on stdin")
    return line.rstrip("\r\n")


def pop_connection_options(kwargs: dict[str, Any]) -> ConnectionOptions:
    """Take this module's options out of a click kwargs dict (asking for passwords as told)."""
    values = {name: kwargs.pop(name, None) for name in OPTION_NAMES}
    opts = ConnectionOptions(
        user=values["user"],
        private_key=str(Path(values["private_key"]).expanduser()) if values["private_key"] else None,
        become=True if values["become"] else None,
        become_user=values["become_user"],
        become_method=values["become_method"],
        host_key_policy=values["host_key_policy"],
        ssh_config=values["ssh_config"],
        timeout=values["timeout"],
    )
    if values["ask_pass"]:
        opts.password = _ask("SSH password: ")
    if values["ask_become_pass"]:
        if values["ask_pass"]:
            answer = _ask("BECOME password[defaults to SSH password]: ")
            opts.become_password = answer or opts.password
        else:
            opts.become_password = _ask("BECOME password: ")
    if kwargs.get("extra_vars"):
        from hostprep.playbook.loader import parse_extra_vars

        extra = parse_extra_vars(kwargs["extra_vars"])
        opts.forced = {k: v for k, v in extra.items() if k in CONNECTION_VARS}
    if opts.host_key_policy == "off":
        from hostprep.transport.options import warn_host_key_checking_off

        warn_host_key_checking_off("--host-key-policy off")
    return opts
