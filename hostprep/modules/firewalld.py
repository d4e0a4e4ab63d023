"""firewalld (ansible.posix.firewalld): a service, port, source, interface, rich rule or masquerading in
a zone, permanently and/or in the running firewall, with firewall-cmd (firewall-offline-cmd when
the daemon is stopped and only the permanent configuration is asked for, as Ansible does)."""

from __future__ import annotations

from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q, sections

ITEMS = ("service", "port", "source", "interface", "rich_rule", "masquerade")


class FirewalldModule(Module):
    name = "firewalld"
    collection = "ansible.posix"
    doc = ("Enable or disable one service, port, source, interface, rich_rule or masquerade in a zone. "
           "permanent: the saved configuration; immediate (or permanent: false): the running firewall.")
    examples = ("- ansible.posix.firewalld:\n    service: https\n    permanent: true\n    immediate: true\n"
                "    state: enabled\n")
    args = {
        "service": Arg("str"),
        "port": Arg("str"),
        "source": Arg("str"),
        "interface": Arg("str"),
        "rich_rule": Arg("str"),
        "masquerade": Arg("bool"),
        "zone": Arg("str"),
        "permanent": Arg("bool"),
        "immediate": Arg("bool", default=False),
        "state": Arg("str", required=True, choices=("enabled", "disabled", "present", "absent")),
        "offline": Arg("bool", default=False),
    }

    def validate(self, raw: Any) -> dict[str, Any]:
        args = super().validate(raw)
        given = [k for k in ITEMS if args.get(k) is not None]
        if len(given) != 1:
            raise ModuleArgError(f"firewalld: give exactly one of {', '.join(ITEMS)} "
                                 f"(got {', '.join(given) or 'none'})", key=given[1] if len(given) > 1 else "service")
        if args["state"] in ("present", "absent"):
            raise ModuleArgError("firewalld: state present/absent (creating or removing zones) is not supported by "
                                 "hostprep; use enabled/disabled", key="state")
        return args

    @staticmethod
    def _item(args: dict[str, Any]) -> tuple[str, str | None]:
        """firewall-cmd's option stem and value: ('service', 'http'), ('masquerade', None)."""
        for key in ITEMS:
            if args.get(key) is not None:
                if key == "masquerade":
                    return "masquerade", None
                return key.replace("_", "-"), str(args[key])
        raise AssertionError("validated")

    def _query(self, args: dict[str, Any], permanent: bool, tool: str = "firewall-cmd") -> str:
        stem, value = self._item(args)
        zone = f" --zone={q(args['zone'])}" if args.get("zone") else ""
        perm = " --permanent" if permanent and tool == "firewall-cmd" else ""
        target = f"={q(value)}" if value is not None else ""
        return f"{tool}{perm}{zone} --query-{stem}{target} >/dev/null 2>&1 && echo yes || echo no"

    def probe(self, args: dict[str, Any]) -> str | None:
        return ("echo '@@hostprep:state@@'; firewall-cmd --state 2>&1; "
                f"echo '@@hostprep:runtime@@'; {self._query(args, False)}; "
                f"echo '@@hostprep:permanent@@'; if firewall-cmd --state >/dev/null 2>&1; then "
                f"{self._query(args, True)}; else {self._query(args, True, 'firewall-offline-cmd')}; fi")

    def _change(self, args: dict[str, Any], wanted: bool, permanent: bool, tool: str) -> Command:
        stem, value = self._item(args)
        zone = f" --zone={q(args['zone'])}" if args.get("zone") else ""
        perm = " --permanent" if permanent and tool == "firewall-cmd" else ""
        target = f"={q(value)}" if value is not None else ""
        return Command(f"{tool}{perm}{zone} --{'add' if wanted else 'remove'}-{stem}{target}")

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        sec = sections(probe.stdout if probe else "")
        running = (sec.get("state") or "").strip() == "running"
        masquerade_off = args.get("masquerade") is False
        wanted = (args["state"] == "enabled") != masquerade_off
        permanent = bool(args["permanent"]) or args["offline"]
        runtime_too = not permanent or args["immediate"]
        stem, value = self._item(args)
        result = {"state": args["state"], "zone": args.get("zone"), stem: value if value is not None else True}
        if runtime_too and not running:
            return Plan(failed=True, result=result, msg="firewall is not currently running, unable to perform "
                                                        "immediate actions without a running firewall daemon")
        steps: list[Command] = []
        msgs: list[str] = []
        if permanent and ((sec.get("permanent") or "").strip() == "yes") != wanted:
            steps.append(self._change(args, wanted, True, "firewall-cmd" if running else "firewall-offline-cmd"))
            msgs.append(f"Permanent operation, Changed {stem} {value or ''} to {args['state']}".replace("  ", " "))
        if runtime_too and ((sec.get("runtime") or "").strip() == "yes") != wanted:
            steps.append(self._change(args, wanted, False, "firewall-cmd"))
            msgs.append(f"Non-permanent operation, Changed {stem} {value or ''} to {args['state']}".replace("  ", " "))
        result["msg"] = ", ".join(msgs)
        return Plan(bool(steps), steps, result=result)
