"""Carry out a module's plan on a host, honouring check mode and --diff."""

from __future__ import annotations

import datetime
import shlex
from typing import TYPE_CHECKING, Any

from hostprep.modules.plan import Command, Plan, Step, Upload
from hostprep.transport.base import RunResult

if TYPE_CHECKING:
    from hostprep.modules.base import Module, TaskContext


COMMAND_MODULES = ("command", "shell", "raw", "script")


def apply_plan(module: Module, args: dict[str, Any], plan: Plan, ctx: TaskContext) -> dict[str, Any]:
    """Run the plan's steps in order; stop at the first failing command. Returns the result dict."""
    if plan.failed:
        result = dict(plan.result)
        result.update(failed=True, changed=False, msg=plan.msg or result.get("msg", "failed"))
        return result
    outputs: list[RunResult] = []
    failed_step: RunResult | None = None
    interrupted, ran = False, 0
    times: tuple[datetime.datetime, datetime.datetime] | None = None
    if plan.changed and not ctx.check_mode:
        for i, step in enumerate(plan.steps):
            if _cancelled(ctx) and not _reads_only(plan.steps[i:]):  # Ctrl-C: no new change starts
                interrupted, ran = True, i
                _drop_temp_uploads(plan.steps[:i], plan.steps[i:], ctx)
                break
            if isinstance(step, Upload):
                extra = _reads_after(plan.steps[i + 1:], ctx)
                ctx.transport.put(step.data, step.dest, mode=step.mode, owner=step.owner, group=step.group,
                                  become=ctx.become, **({"then": extra} if extra else {}))
            elif isinstance(step, Command):
                began = datetime.datetime.now()
                if ctx.read_only and step.stdin is None and step.env is None:
                    res = ctx.check(step.cmd, become=step.become)  # a declared read-only check
                elif step.reads_only and step.stdin is None and step.env is None:
                    res = ctx.probe(step.cmd, become=step.become)  # reports the result: an upload may have carried it
                else:
                    if i == len(plan.steps) - 1:  # the last change: what finish reads next may come with it
                        _carry(module.reads_after(args), ctx)
                    res = ctx.run(step.cmd, become=step.become, stdin=step.stdin, env=step.env)
                times = (began, datetime.datetime.now())
                outputs.append(res)
                if step.check_rc and res.rc != 0:
                    failed_step, ran = res, i
                    break
    result = module.finish(args, plan, outputs, ctx)
    if times is not None and getattr(module, "timed", False):
        result.update(start=str(times[0]), end=str(times[1]), delta=str(times[1] - times[0]))
    # a module's finish may know better than its plan (get_url: the server's 304, the same content)
    result["changed"] = bool(result.pop("_changed", plan.changed))
    if plan.msg and "msg" not in result:
        result["msg"] = plan.msg
    if ctx.diff and plan.diff is not None and getattr(module, "gives_diff", True):
        result["diff"] = plan.diff
    if failed_step is not None:
        result["failed"] = True
        # a failed result says changed only if a step before the failing one changed the host; commands
        # say changed as Ansible's command/shell/raw/script do
        if module.name not in COMMAND_MODULES:
            result["changed"] = ran > 0
        result.setdefault(
            "msg",
            f"non-zero return code {failed_step.rc}: {failed_step.stderr.strip() or failed_step.stdout.strip()}",
        )
        if getattr(module, "reports_rc", True):
            result["rc"] = failed_step.rc
    if interrupted:
        result.update(failed=True, interrupted=True, changed=ran > 0,
                      msg="interrupted (Ctrl-C) before all of its steps ran; a re-run completes it")
    return result


def _reads_after(steps: list[Step], ctx: TaskContext) -> list[tuple[str, Any]]:
    """The read-only steps right after an upload, as (command, become) for a transport that carries them in
    the upload's round trip (the fast path's: `carries_reads`). Each is then asked for with `ctx.probe`, so a
    carried answer is used and a missing one is read at its turn."""
    if not getattr(ctx.transport, "carries_reads", False):
        return []
    out = []
    for step in steps:
        if not (isinstance(step, Command) and step.reads_only and step.stdin is None and step.env is None):
            break
        out.append((step.cmd, ctx.become if step.become is not False else None))
    return out


def _carry(snippets: list[str], ctx: TaskContext) -> None:
    """Have the next change carry these reads (with the task's become), where the transport can."""
    carry = getattr(ctx.transport, "carry_next", None) if snippets else None
    if carry is not None:
        carry([(cmd, ctx.become) for cmd in snippets])


def _reads_only(steps: list[Step]) -> bool:
    """True when every step left only reads the host to report the result (it may run after Ctrl-C)."""
    return all(isinstance(s, Command) and s.reads_only for s in steps)


def _cancelled(ctx: TaskContext) -> bool:
    return ctx.cancelled is not None and ctx.cancelled.is_set()


def _drop_temp_uploads(done: list[Step], rest: list[Step], ctx: TaskContext) -> None:
    """Remove files uploaded for a step that will not run now (copy's `validate` temp file)."""
    later = "\n".join(s.cmd for s in rest if isinstance(s, Command))
    for step in done:
        if isinstance(step, Upload) and step.dest in later:
            try:
                ctx.run(f"rm -f -- {shlex.quote(step.dest)}")
            except Exception:  # noqa: BLE001 - best effort; the connection may be gone
                pass
