"""Carry out a module's plan on a host, honouring check mode and --diff."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hostprep.modules.base import Command, Plan, TaskContext, Upload
from hostprep.transport.base import RunResult

if TYPE_CHECKING:
    from hostprep.modules.base import Module


def apply_plan(module: Module, args: dict[str, Any], plan: Plan, ctx: TaskContext) -> dict[str, Any]:
    """Run the plan's steps in order; stop at the first failing command. Returns the result dict."""
    if plan.failed:
        result = dict(plan.result)
        result.update(failed=True, changed=False, msg=plan.msg or result.get("msg", "failed"))
        return result
    outputs: list[RunResult] = []
    failed_step: RunResult | None = None
    if plan.changed and not ctx.check_mode:
        for step in plan.steps:
            if isinstance(step, Upload):
                ctx.transport.put(
                    step.data, step.dest, mode=step.mode, owner=step.owner, group=step.group, become=ctx.become
                )
            elif isinstance(step, Command):
                res = ctx.run(step.cmd, become=step.become, stdin=step.stdin, env=step.env)
                outputs.append(res)
                if step.check_rc and res.rc != 0:
                    failed_step = res
                    break
    result = module.finish(args, plan, outputs, ctx)
    result["changed"] = bool(plan.changed)
    if plan.msg and "msg" not in result:
        result["msg"] = plan.msg
    if ctx.diff and plan.diff is not None:
        result["diff"] = plan.diff
    if failed_step is not None:
        result["failed"] = True
        result.setdefault(
            "msg",
            f"non-zero return code {failed_step.rc}: {failed_step.stderr.strip() or failed_step.stdout.strip()}",
        )
        result["rc"] = failed_step.rc
    return result
