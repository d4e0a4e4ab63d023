"""script: upload a controller script to a temporary file on the host, run it, remove it."""

from __future__ import annotations

import secrets
import shlex
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules.base import Arg, Command, Plan, ProbeResult, TaskContext, Upload
from hostprep.modules.command import CommandModule
from hostprep.modules.shellutil import q


class ScriptModule(CommandModule):
    name = "script"
    timed = False  # Ansible's script result has no start/end/delta
    strips_output = False
    free_form = "cmd"
    doc = ("Run a local script (from the role's or playbook's files/) on the host: it is uploaded to a temporary "
           "file, run with its arguments (through `executable` if given) and removed. creates/removes make it "
           "idempotent; check mode skips it unless they are given (then it reports whether it would run).")
    examples = "- script: files/setup.sh --mode fast\n  args:\n    creates: /etc/app/.done\n"
    args = {
        "cmd": Arg("str", aliases=("_raw_params",), doc="The script's path followed by its arguments."),
        "chdir": Arg("path", doc="Change into this directory on the host first."),
        "creates": Arg("path", doc="Skip if this path exists on the host."),
        "removes": Arg("path", doc="Run only if this path exists on the host."),
        "executable": Arg("str", doc="Run the script with this program (e.g. /bin/bash, python3)."),
        "decrypt": Arg("bool", default=True),
    }
    mutually_exclusive = ()

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        cmd = args.get("cmd")
        if not cmd:
            raise ModuleArgError("script: no script given", key="cmd")
        try:
            words = shlex.split(cmd)
        except ValueError as exc:
            raise ModuleArgError(f"script: cannot split command: {exc}", key="cmd") from None
        out = probe.stdout if probe else ""
        if args.get("creates") and "creates=yes" in out:
            return Plan(False, result={"skipped": True, "msg": f"{args['creates']} exists, matching creates option"})
        if args.get("removes") and "removes=no" in out:
            return Plan(False, result={"skipped": True,
                                       "msg": f"{args['removes']} does not exist, matching removes option"})
        if ctx is None or ctx.find_file is None:
            raise ModuleArgError("script: no way to find the script on the controller", key="cmd")
        data = ctx.find_file(words[0], "files").read_bytes()
        tmp = f"/tmp/.hostprep-script-{secrets.token_hex(8)}"
        rest = cmd.split(None, 1)[1] if len(cmd.split(None, 1)) > 1 else ""
        run = f"{args['executable']} {q(tmp)}" if args.get("executable") else q(tmp)
        line = f"{run} {rest}".rstrip()
        if args.get("chdir"):
            line = f"cd {q(args['chdir'])} && {line}"
        return Plan(True, [Upload(data, tmp, mode="0700"),
                           Command(f"{line}\nrc=$?; rm -f -- {q(tmp)}; exit $rc", check_rc=False)])

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: ProbeResult | None = None) -> dict[str, Any]:
        if ctx.check_mode:
            if not (args.get("creates") or args.get("removes")):
                return {"changed": False, "skipped": True, "msg": "Check mode is not supported for this task."}
            res = ctx.probe(super().probe(args) or "true")
            plan = self.plan(args, ProbeResult(res.rc, res.stdout, res.stderr), ctx)
            return {"changed": plan.changed, **plan.result}  # as Ansible: changed if creates/removes would run it
        result = super(CommandModule, self).run(args, ctx, probe)
        if result.get("rc", 0) != 0:
            result["failed"] = True
        return result
