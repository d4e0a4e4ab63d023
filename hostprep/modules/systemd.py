"""systemd (systemd_service) and service: unit state, enablement, masking, daemon-reload."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import parse_kv_lines, q


class SystemdModule(Module):
    name = "systemd"
    aliases = ("systemd_service",)
    doc = "Start/stop/restart/reload a systemd unit, enable or disable it, mask it, reload systemd."
    examples = ("- systemd:\n    name: docker\n    enabled: true\n    state: started\n"
                "- systemd:\n    daemon_reload: true\n")
    args = {
        "name": Arg("str", aliases=("service", "unit")),
        "state": Arg("str", choices=("reloaded", "restarted", "started", "stopped")),
        "enabled": Arg("bool"),
        "masked": Arg("bool"),
        "daemon_reload": Arg("bool", default=False, aliases=("daemon-reload",)),
        "daemon_reexec": Arg("bool", default=False, aliases=("daemon-reexec",)),
        "scope": Arg("str", default="system", choices=("system", "user", "global")),
        "no_block": Arg("bool", default=False),
        "force": Arg("bool"),
    }

    def probe(self, args: dict[str, Any]) -> str | None:
        if not args.get("name"):
            return None
        return (f"systemctl show {q(args['name'])} -p ActiveState -p SubState -p UnitFileState -p LoadState "
                f"2>/dev/null; echo \"is_enabled=$(systemctl is-enabled {q(args['name'])} 2>/dev/null)\"")

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        scope = "" if args["scope"] == "system" else f"--{args['scope']} "
        nb = "--no-block " if args["no_block"] else ""
        steps: list[Command] = []
        before: list[str] = []
        after: list[str] = []
        if args["daemon_reexec"]:
            steps.append(Command(f"systemctl {scope}daemon-reexec"))
        if args["daemon_reload"]:
            steps.append(Command(f"systemctl {scope}daemon-reload"))
        name = args.get("name")
        if not name:
            if not steps:
                return Plan(failed=True, msg="systemd: name is required unless daemon_reload/daemon_reexec")
            return Plan(True, steps, result={"changed": True})
        info = parse_kv_lines(probe.stdout if probe else "")
        load = info.get("LoadState", "")
        active = info.get("ActiveState", "inactive")
        enabled_state = info.get("is_enabled", info.get("UnitFileState", ""))
        masked = enabled_state.startswith("masked") or load == "masked"
        force = "--force " if args.get("force") else ""
        qn = q(name)
        if args.get("masked") is not None and args["masked"] != masked:
            steps.append(Command(f"systemctl {scope}{'mask' if args['masked'] else 'unmask'} {qn}"))
            before.append(f"masked: {masked}")
            after.append(f"masked: {args['masked']}")
            masked = args["masked"]
        wants_unit = args.get("state") or args.get("enabled") is not None
        if load == "not-found" and not steps and wants_unit and not args["daemon_reload"]:
            return Plan(failed=True, msg=f"Could not find the requested service {name}: host")
        if args.get("enabled") is not None:
            on = {"enabled", "enabled-runtime", "alias", "static", "indirect", "generated"}
            if (args["enabled"] and enabled_state not in on) or (
                    not args["enabled"] and enabled_state in ("enabled", "enabled-runtime", "alias")):
                steps.append(Command(f"systemctl {scope}{force}{'enable' if args['enabled'] else 'disable'} {qn}"))
                before.append(f"enabled: {enabled_state or 'disabled'}")
                after.append(f"enabled: {args['enabled']}")
        state = args.get("state")
        running = active in ("active", "activating", "reloading")
        if state == "started" and not running:
            steps.append(Command(f"systemctl {scope}{nb}start {qn}"))
        elif state == "stopped" and running:
            steps.append(Command(f"systemctl {scope}{nb}stop {qn}"))
        elif state == "restarted":
            steps.append(Command(f"systemctl {scope}{nb}restart {qn}"))
        elif state == "reloaded":
            steps.append(Command(f"systemctl {scope}{nb}{'reload-or-restart' if running else 'start'} {qn}"))
        if state and (state != "started" or not running) and (state != "stopped" or running):
            before.append(f"state: {active}")
            after.append(f"state: {state}")
        status = {"ActiveState": active, "LoadState": load, "UnitFileState": enabled_state}
        result = {"name": name, "status": status, "state": state or ("started" if running else "stopped"),
                  "enabled": args.get("enabled") if args.get("enabled") is not None else enabled_state == "enabled"}
        diff = {"before": "\n".join(before) + "\n", "after": "\n".join(after) + "\n"} if before else None
        return Plan(bool(steps), steps, diff=diff, result=result)


class ServiceModule(SystemdModule):
    name = "service"
    aliases = ()
    doc = "Manage a service (through systemd on these hosts): state and enablement."
    examples = "- service:\n    name: docker\n    state: started\n    enabled: true\n"
    args = {
        "name": Arg("str", required=True),
        "state": Arg("str", choices=("reloaded", "restarted", "started", "stopped")),
        "enabled": Arg("bool"),
        "sleep": Arg("int"),
        "pattern": Arg("str"),
        "arguments": Arg("str", aliases=("args",), default=""),
        "runlevel": Arg("str", default="default"),
        "use": Arg("str", default="auto"),
    }

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        full = {"masked": None, "daemon_reload": False, "daemon_reexec": False, "scope": "system",
                "no_block": False, "force": None, **args}
        return super().plan(full, probe, ctx)
