"""systemd (alias systemd_service): unit state, enablement, masking, daemon-reload, over systemctl.

The probe is one `systemctl show` plus `systemctl is-enabled`. As in Ansible, daemon-reexec and
daemon-reload run first and are not changes in themselves (so they run outside the plan, before
the probe, and a unit file written earlier in the play is known to systemd when it is probed);
then the plan masks, enables and sets the state, in Ansible's order.
"""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q

# is-enabled answers Ansible counts as enabled: those systemctl answers with rc 0, less enabled-runtime, indirect
# and alias (Ansible enables those anyway); a static unit counts as enabled, so enabled: false disables it (a
# change that changes nothing, as Ansible reports it)
ENABLED_STATES = {"enabled", "static", "generated", "transient"}
RUNNING_STATES = {"active", "activating", "reloading"}


def unit_probe(name: str) -> str:
    """systemctl show (key=value lines) and is-enabled of one unit."""
    # every property, as Ansible's registered `status` holds the whole `systemctl show`
    return (f"systemctl show {q(name)} 2>/dev/null; "
            f"echo \"is_enabled=$(systemctl is-enabled {q(name)} 2>/dev/null)\"")


def parse_show(text: str) -> dict[str, str]:
    """`systemctl show` output as Ansible parses it: key=value lines, Exec* values in {...} may span lines."""
    parsed: dict[str, str] = {}
    pending: list[str] = []
    key = None
    for line in text.split("\n"):
        if key is None:
            if "=" not in line:
                continue
            key, value = line.split("=", 1)
            if key.startswith("Exec") and value.lstrip().startswith("{") and not value.rstrip().endswith("}"):
                pending.append(value)
                continue
            parsed[key] = value.strip()
            key = None
        else:
            pending.append(line)
            if line.rstrip().endswith("}"):
                parsed[key] = "\n".join(pending).strip()
                pending, key = [], None
    return parsed


def plan_unit(args: dict[str, Any], probe: ProbeResult | None) -> Plan:
    """Steps that bring one unit to the wanted masked/enabled/state (shared by systemd and service)."""
    nb = "--no-block " if args.get("no_block") else ""
    steps: list[Command] = []
    before: list[str] = []
    after: list[str] = []
    name = args.get("name")
    if not name:
        return Plan(False, result={"name": None, "status": {}})
    info = parse_show(probe.stdout if probe else "")
    load = info.get("LoadState", "")
    active = info.get("ActiveState", "inactive") or "inactive"
    enabled_state = info.get("is_enabled", "").strip() or info.get("UnitFileState", "")
    masked = enabled_state.startswith("masked") or load == "masked"
    qn = q(name)
    force = "--force " if args.get("force") else ""
    # in check mode the daemon-reload this task asks for has not happened, so a new unit may be unknown
    unknown = load == "not-found" and not args.get("daemon_reload")
    wants = args.get("state") or args.get("enabled") is not None or args.get("masked") is False
    if unknown and wants and not args.get("masked"):
        return Plan(failed=True, msg=f"Could not find the requested service {name}: host")
    # what each step is, for Ansible's failure message (finish): "Failed to mask the service (x): ..."
    actions: list[str] = []
    if args.get("masked") is not None and args["masked"] != masked:
        actions.append("mask" if args["masked"] else "unmask")
        steps.append(Command(f"systemctl {'mask' if args['masked'] else 'unmask'} {qn}"))
        before.append(f"masked: {masked}")
        after.append(f"masked: {args['masked']}")
        masked = args["masked"]
    enabled = enabled_state in ENABLED_STATES
    if args.get("enabled") is not None:
        is_on = enabled_state in ENABLED_STATES
        if args["enabled"] != is_on:
            actions.append("enable" if args["enabled"] else "disable")
            steps.append(Command(f"systemctl {force}{'enable' if args['enabled'] else 'disable'} {qn}"))
            before.append(f"enabled: {enabled_state or 'disabled'}")
            after.append(f"enabled: {'enabled' if args['enabled'] else 'disabled'}")
            enabled = args["enabled"]
    state = args.get("state")
    running = active in RUNNING_STATES
    verb = None
    if state == "started" and not running:
        verb = "start"
    elif state == "stopped" and running:
        verb = "stop"
    elif state == "restarted":
        verb = "restart"
    elif state == "reloaded":
        verb = "reload" if running else "start"  # as Ansible: a unit that cannot reload fails
    if verb:
        actions.append(verb)
        steps.append(Command(f"systemctl {nb}{verb} {qn}"))
        before.append(f"state: {active}")
        after.append(f"state: {'inactive' if verb == 'stop' else 'active'}")
    # the unit's properties as systemctl show gave them before any change (UnitFileState included), as Ansible's
    status = {k: v for k, v in info.items() if k != "is_enabled"}
    # Ansible's keys: enabled only when asked (after the task), state only when asked (restarted/reloaded of a
    # unit systemd knows: 'started'); no masked key
    result: dict[str, Any] = {"name": name, "status": status, "_actions": actions}
    if args.get("enabled") is not None:
        result["enabled"] = enabled
    if state:
        result["state"] = "started" if state in ("restarted", "reloaded") and "ActiveState" in info else state
    diff = {"before": "".join(f"{b}\n" for b in before), "after": "".join(f"{a}\n" for a in after)} \
        if before else None
    return Plan(bool(steps), steps, diff=diff, result=result)


def finish_unit(args: dict[str, Any], plan: Plan, outputs: list) -> dict[str, Any]:
    """The planned result (no rc/stdout: Ansible's systemd gives none); a failed step gives Ansible's message
    alone, as its fail_json does."""
    result = dict(plan.result)
    actions = result.pop("_actions", [])
    if outputs and outputs[-1].rc != 0 and len(outputs) <= len(actions):
        res, action, unit = outputs[-1], actions[len(outputs) - 1], args.get("name")
        if action in ("mask", "unmask"):
            return {"msg": f"Failed to {action} the service ({unit}): {res.stderr.strip()}"}
        if action in ("enable", "disable"):
            return {"msg": f"Unable to {action} service {unit}: {res.stdout + res.stderr}"}
        return {"msg": f"Unable to {action} service {unit}: {res.stderr}"}
    return result


class SystemdModule(Module):
    name = "systemd"
    aliases = ("systemd_service",)
    doc = ("Start/stop/restart/reload a systemd unit, enable or disable it, mask it, reload systemd. "
           "Only the system scope is supported.")
    examples = ("- systemd:\n    name: docker\n    enabled: true\n    state: started\n"
                "- systemd:\n    daemon_reload: true\n")
    args = {
        "name": Arg("str", aliases=("service", "unit")),
        "state": Arg("str", choices=("reloaded", "restarted", "started", "stopped")),
        "enabled": Arg("bool"),
        "masked": Arg("bool"),
        "daemon_reload": Arg("bool", default=False, aliases=("daemon-reload",)),
        "daemon_reexec": Arg("bool", default=False, aliases=("daemon-reexec",)),
        "scope": Arg("str", default="system", choices=("system",),
                     doc="user and global scopes are not supported."),
        "no_block": Arg("bool", default=False),
        "force": Arg("bool"),
    }
    required_one_of = (("name", "daemon_reload", "daemon_reexec"),)
    reports_rc = False  # Ansible's failure is its message alone
    gives_diff = False  # Ansible's systemd/service have no diff support: --diff shows and registers none

    def validate(self, raw: Any) -> dict[str, Any]:
        args = super().validate(raw)
        if not args.get("name") and not (args["daemon_reload"] or args["daemon_reexec"]):
            from hostprep.errors import ModuleArgError

            raise ModuleArgError("systemd: name is required unless daemon_reload or daemon_reexec", key="name")
        return args

    def probe(self, args: dict[str, Any]) -> str | None:
        return unit_probe(args["name"]) if args.get("name") else None

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: ProbeResult | None = None) -> dict[str, Any]:
        """daemon-reexec/daemon-reload first (as Ansible: not a change in itself), then probe the unit."""
        if not ctx.check_mode:
            for verb in ("daemon-reexec", "daemon-reload"):
                if args[verb.replace("-", "_")]:
                    res = ctx.run(f"systemctl {verb}")
                    if res.rc != 0:
                        return {"failed": True, "changed": False, "rc": res.rc,
                                "msg": f"failure {res.rc} during {verb}: {res.stderr.strip()}"}
                    probe = None  # what systemd knows has changed
        return super().run(args, ctx, probe)

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        return plan_unit(args, probe)

    def finish(self, args: dict[str, Any], plan: Plan, outputs: list, ctx: TaskContext) -> dict:
        return finish_unit(args, plan, outputs)
