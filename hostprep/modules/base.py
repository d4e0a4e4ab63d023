"""The module contract: probe the host, compare with the wanted state, plan the change.

A module never needs Python on the host. It describes:
  * `probe(args)`: a POSIX shell snippet that prints what the module needs to know (or None);
  * `plan(args, probe, ctx)`: from the probe's output, the steps that close the gap
    (none = ok), a diff, and the values to return;
  * `finish(args, plan, outputs, ctx)`: the result after the steps ran (default: merge rc/stdout).

Because probes are pure functions of the arguments, the executor can run the probes of
many tasks in one remote script (the fast path) and fall back to step-by-step work only
from the first task that must change. Modules that need a conversation with the host
(wait_for, reboot) or run on the controller (debug, set_fact) override `run` instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from hostprep.modules.apply import apply_plan
from hostprep.modules.argspec import validate_args
from hostprep.modules.plan import Arg, Command, Plan, ProbeResult, Step, Upload  # noqa: F401 - re-exported
from hostprep.transport.base import BecomeSpec, RunResult, Transport
from hostprep.values import BOOL_FALSE, BOOL_TRUE, to_bool  # noqa: F401 - re-exported for modules


@dataclass
class TaskContext:
    """What a module may use while it runs on one host for one task."""

    transport: Transport
    host: str
    check_mode: bool = False
    diff: bool = False
    become: BecomeSpec | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)
    render: Callable[[str], str] | None = None  # template text -> rendered text with task vars
    render_file: Callable[[Path], str] | None = None  # a Jinja2 template file -> text (template module)
    find_file: Callable[[str, str], Path] | None = None  # (name, "templates"|"files") -> local path
    facts: Mapping[str, Any] = field(default_factory=dict)
    log: Callable[[str], None] | None = None
    templar: Any = None  # the task's Templar: controller modules (debug var=, assert) evaluate with it
    cancelled: threading.Event | None = None  # set on Ctrl-C: apply_plan and pause stop between steps
    read_only: bool = False  # a declared read-only check (command + changed_when: false): run via `check`

    def run(self, cmd: str, *, become: bool | None = None, stdin: bytes | None = None,
            env: dict[str, str] | None = None, timeout: float | None = None) -> RunResult:
        """Run a command with the task's become (or none when `become=False`)."""
        spec = self.become if become is not False else None
        return self._refused(self.transport.run(cmd, become=spec, stdin=stdin, env=env, timeout=timeout), spec)

    @staticmethod
    def _refused(res: RunResult, spec: BecomeSpec | None) -> RunResult:
        """sudo that never started the command is the task's error, in Ansible's words, not an rc."""
        if spec is not None and spec.enabled and res.started is False:
            from hostprep.errors import TransportError

            said = res.stderr.strip().splitlines()
            detail = f" ({said[-1].strip()})" if said else ""
            if "refused the become password" in res.stderr or "incorrect password" in res.stderr.lower():
                raise TransportError(f"Incorrect sudo password{detail}")
            if "password is required" in res.stderr:
                raise TransportError(f"Missing sudo password{detail}")
            raise TransportError(f"sudo to {spec.user} failed{detail}")
        return res

    def check(self, cmd: str, *, become: bool | None = None) -> RunResult:
        """Run a command the task declared read-only (changed_when: false), at its turn.

        Where the transport can, the checks right after it share the round trip.
        """
        spec = self.become if become is not False else None
        check = getattr(self.transport, "check", None)
        if check is None:
            return self._refused(self.transport.run(cmd, become=spec), spec)
        return self._refused(check(cmd, become=spec), spec)

    def probe(self, cmd: str, *, become: bool | None = None) -> RunResult:
        """Run a read-only snippet: answered from the host's batched probes when the transport has them.

        Only for commands that never change the host; anything else goes through `run`.
        """
        spec = self.become if become is not False else None
        probe = getattr(self.transport, "probe", None)
        if probe is None:
            return self._refused(self.transport.run(cmd, become=spec), spec)
        return self._refused(probe(cmd, become=spec), spec)


class Module:
    """Base class; subclasses set `name`, `args`, `doc`, `examples` and implement probe/plan."""

    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    args: ClassVar[dict[str, Arg]] = {}
    doc: ClassVar[str] = ""
    examples: ClassVar[str] = ""
    free_form: ClassVar[str | None] = None  # arg receiving `module: free form text` (command/shell)
    mutually_exclusive: ClassVar[tuple[tuple[str, ...], ...]] = ()
    required_one_of: ClassVar[tuple[tuple[str, ...], ...]] = ()
    runs_on: ClassVar[str] = "host"  # "host" or "controller"
    accepts_any_args: ClassVar[bool] = False  # set_fact: argument names are the user's variables
    supports_check_mode: ClassVar[bool] = True
    # False: the result is the plan's alone, as for the Ansible modules that give no rc/stdout/stderr of the
    # commands they run (hostname, sysctl, cron, rpm_key, yum_repository, the text editors, timezone)
    reports_command_output: ClassVar[bool] = True

    # -- arguments ---------------------------------------------------------------------
    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Check names and types the way Ansible's argument spec does; fill defaults."""
        return validate_args(self, raw)

    # -- the probe/plan contract --------------------------------------------------------
    def probe(self, args: dict[str, Any]) -> str | None:
        """Shell snippet whose stdout tells the current state; None if nothing to read."""
        return None

    def lookahead_probe(self, args: dict[str, Any], facts: Mapping[str, Any]) -> str | None:
        """The probe this task will ask for, worked out ahead from facts (the fast path's guess).

        The default is `probe`; modules whose `run` picks a probe at run time override it.
        """
        return self.probe(args)

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        raise NotImplementedError

    def reads_after(self, args: dict[str, Any]) -> list[str]:
        """The read-only snippets `finish` asks for with `ctx.probe` after a change (the fast path runs them
        in the change's round trip, after it; a snippet not asked for then costs nothing but its run)."""
        return []

    def finish(self, args: dict[str, Any], plan: Plan, outputs: list[RunResult], ctx: TaskContext) -> dict:
        """Result after the steps ran. Default: plan.result plus rc/stdout/stderr of the last command."""
        result = dict(plan.result)
        if outputs and self.reports_command_output:
            last = outputs[-1]
            result.setdefault("rc", last.rc)
            result.setdefault("stdout", last.stdout.rstrip("\n"))
            result.setdefault("stderr", last.stderr.rstrip("\n"))
            result.setdefault("stdout_lines", result["stdout"].splitlines())
            result.setdefault("stderr_lines", result["stderr"].splitlines())
        return result

    # -- running ------------------------------------------------------------------------
    def run(self, args: dict[str, Any], ctx: TaskContext, probe: ProbeResult | None = None) -> dict[str, Any]:
        """Probe (unless given), plan, and apply unless in check mode. Returns Ansible's result dict."""
        if probe is None:
            snippet = self.probe(args)
            if snippet is not None:
                res = ctx.probe(snippet)
                probe = ProbeResult(res.rc, res.stdout, res.stderr)
        plan = self.plan(args, probe, ctx)
        return apply_plan(self, args, plan, ctx)
