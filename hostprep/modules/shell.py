"""shell: run a command line through /bin/sh (pipes, redirects, variables)."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Module
from hostprep.modules.command import CommandModule
from hostprep.modules.shellutil import q


class ShellModule(CommandModule):
    name = "shell"
    use_shell = True
    doc = "Run a command line through a shell. Same idempotence rules as command (creates/removes)."
    examples = "- shell: rpm -qa | sort > /tmp/pkgs\n  args:\n    creates: /tmp/pkgs\n"
    args = {**{k: v for k, v in CommandModule.args.items() if k not in ("argv", "expand_argument_vars")},
            "executable": Arg("path", doc="The shell to use instead of /bin/sh.")}
    mutually_exclusive = ()

    def command_line(self, args: dict[str, Any]) -> str:
        cmd = super().command_line({**args, "argv": None, "expand_argument_vars": True})
        if args.get("executable"):
            return f"{q(args['executable'])} -c {q(cmd)}"
        return cmd


__all__ = ["ShellModule", "Module"]
