"""command: run a program on the host (no shell), idempotent through creates/removes."""

from __future__ import annotations

import shlex
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q


class CommandModule(Module):
    name = "command"
    free_form = "cmd"
    supports_check_mode = True
    doc = ("Run a command (not through a shell). Always reports changed unless `creates`/`removes` show there "
           "is nothing to do; use changed_when for the rest. In check mode it is skipped unless creates/removes "
           "decide.")
    examples = "- command: docker version\n  changed_when: false\n- command:\n    argv: [ls, -l, /etc]\n"
    args = {
        "cmd": Arg("str", aliases=("_raw_params",), doc="The command line (split like a shell would, no shell)."),
        "argv": Arg("list", elements="str", doc="The command as a list of words."),
        "chdir": Arg("path", doc="Change into this directory first."),
        "creates": Arg("path", doc="Skip if this path exists."),
        "removes": Arg("path", doc="Run only if this path exists."),
        "stdin": Arg("str", doc="Text fed to the command's standard input."),
        "stdin_add_newline": Arg("bool", default=True, doc="Append a newline to stdin."),
        "strip_empty_ends": Arg("bool", default=True, doc="Strip empty lines at the end of stdout/stderr."),
        "expand_argument_vars": Arg("bool", default=True, doc="Expand $VARS in arguments (like Ansible)."),
    }
    mutually_exclusive = (("cmd", "argv"),)
    use_shell = False
    timed = True  # apply_plan records start/end/delta of the command, as Ansible's result carries them
    strips_output = True  # strip_empty_ends applies (Ansible's script action gives the output untouched)

    def command_line(self, args: dict[str, Any]) -> str:
        if args.get("argv"):
            return " ".join(q(a) for a in args["argv"])
        cmd = args.get("cmd")
        if not cmd:
            raise ModuleArgError(f"{self.name}: no command given", key="cmd")
        if self.use_shell:
            return cmd
        try:
            words = shlex.split(cmd)
        except ValueError as exc:
            raise ModuleArgError(f"{self.name}: cannot split command: {exc}", key="cmd") from None
        # `exec` in a subshell: the program itself runs, as Ansible's command module execs it, never a shell
        # builtin of the same name (sh's echo would read `\t` as a tab, coreutils' echo does not)
        argv = " ".join(q(w) if not (args["expand_argument_vars"] and w.startswith("$")) else w for w in words)
        return f"(exec {argv})"

    def cmd_value(self, args: dict[str, Any]) -> list[str] | str:
        """The registered `cmd` as Ansible's: the argv list for command, the command line as given for shell."""
        if self.use_shell:
            return args.get("cmd") or ""
        if args.get("argv"):
            return [str(a) for a in args["argv"]]
        return shlex.split(args.get("cmd") or "")

    def probe(self, args: dict[str, Any]) -> str | None:
        checks = []
        if args.get("creates"):
            checks.append(f"[ -e {q(args['creates'])} ] && echo creates=yes || echo creates=no")
        if args.get("removes"):
            checks.append(f"[ -e {q(args['removes'])} ] && echo removes=yes || echo removes=no")
        return "; ".join(checks) or None

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        line = self.command_line(args)
        out = probe.stdout if probe else ""
        shoulda = "Would" if getattr(ctx, "check_mode", False) else "Did"  # ctx is None for a lookahead
        skip = None
        if args.get("creates") and "creates=yes" in out:
            skip = (f"{shoulda} not run command since '{args['creates']}' exists",
                    f"skipped, since {args['creates']} exists")
        elif args.get("removes") and "removes=no" in out:
            skip = (f"{shoulda} not run command since '{args['removes']}' does not exist",
                    f"skipped, since {args['removes']} does not exist")
        if skip is not None:
            return Plan(False, result={**self._empty(args), "msg": skip[0], "rc": 0, "stdout": skip[1],
                                       "stdout_lines": [skip[1]]})
        full = line
        if args.get("chdir"):
            full = f"cd {q(args['chdir'])} && {line}"
        stdin = None
        if args.get("stdin") is not None:
            stdin = (args["stdin"] + ("\n" if args["stdin_add_newline"] else "")).encode()
        return Plan(True, steps=[Command(full, stdin=stdin)], result=self._empty(args))

    def _empty(self, args: dict[str, Any]) -> dict[str, Any]:
        """Ansible's command result before anything ran (start/end/delta stay None unless the command runs)."""
        return {"cmd": self.cmd_value(args), "stdout": "", "stderr": "", "rc": None, "start": None, "end": None,
                "delta": None, "msg": "", "stdout_lines": [], "stderr_lines": []}

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: ProbeResult | None = None) -> dict[str, Any]:
        if ctx.check_mode and not (args.get("creates") or args.get("removes")):
            return {**self._empty(args), "rc": 0, "changed": False, "skipped": True,
                    "msg": "Command would have run if not in check mode"}
        return super().run(args, ctx, probe)

    def finish(self, args: dict[str, Any], plan: Plan, outputs: list, ctx: TaskContext) -> dict:
        result = dict(plan.result)
        if outputs:
            last = outputs[-1]
            strip = self.strips_output and args.get("strip_empty_ends", True)
            stdout = last.stdout.rstrip("\r\n") if strip else last.stdout
            stderr = last.stderr.rstrip("\r\n") if strip else last.stderr
            result.update(rc=last.rc, stdout=stdout, stderr=stderr, stdout_lines=stdout.splitlines(),
                          stderr_lines=stderr.splitlines())
            if last.rc != 0:
                result["msg"] = "non-zero return code"
        return result

