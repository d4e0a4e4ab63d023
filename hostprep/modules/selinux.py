"""selinux (ansible.posix.selinux): SELinux mode and policy in /etc/selinux/config and, when the kernel
has SELinux on, the running mode (setenforce). A change that needs a reboot says so (reboot_required)."""

from __future__ import annotations

import re
from typing import Any

from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext, Upload
from hostprep.modules.shellutil import q, sections


def set_config_value(text: str, key: str, value: str) -> str:
    """The config text with KEY=value (the first uncommented KEY= line replaced, else appended)."""
    pattern = re.compile(rf"^\s*{key}\s*=.*$", re.MULTILINE)
    if pattern.search(text):
        return pattern.sub(f"{key}={value}", text, count=1)
    return text + ("" if text.endswith("\n") or not text else "\n") + f"{key}={value}\n"


def config_value(text: str, key: str) -> str | None:
    match = re.search(rf"^\s*{key}\s*=\s*(\S*)", text, re.MULTILINE)
    return match.group(1) if match else None


class SelinuxModule(Module):
    name = "selinux"
    collection = "ansible.posix"
    doc = ("Set SELinux's mode (enforcing, permissive, disabled) and policy in the config file and, where "
           "SELinux is on, at once with setenforce; reboot_required tells when only a reboot completes it.")
    examples = "- ansible.posix.selinux:\n    policy: targeted\n    state: permissive\n"
    args = {
        "state": Arg("str", required=True, choices=("enforcing", "permissive", "disabled")),
        "policy": Arg("str"),
        "configfile": Arg("path", default="/etc/selinux/config", aliases=("conf", "file")),
        "update_kernel_param": Arg("bool", default=False),
    }

    def validate(self, raw: Any) -> dict[str, Any]:
        args = super().validate(raw)
        if args["update_kernel_param"]:
            from hostprep.errors import ModuleArgError

            raise ModuleArgError("selinux: update_kernel_param is not supported by hostprep", key="update_kernel_param")
        return args

    def probe(self, args: dict[str, Any]) -> str | None:
        return (f"echo '@@hostprep:config@@'; cat {q(args['configfile'])} 2>/dev/null; "
                "echo '@@hostprep:runtime@@'; command -v getenforce >/dev/null && getenforce || echo absent")

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        sec = sections(probe.stdout if probe else "")
        text = sec.get("config", "")
        runtime = (sec.get("runtime") or "absent").strip().lower()
        state, policy = args["state"], args.get("policy") or config_value(text, "SELINUXTYPE") or "targeted"
        result: dict[str, Any] = {"configfile": args["configfile"], "policy": policy, "state": state,
                                  "reboot_required": False}
        if runtime == "absent":
            return Plan(failed=True, msg="SELinux tools (getenforce) are not installed on this host",
                        result=result)
        steps: list = []
        msgs: list[str] = []
        new = set_config_value(set_config_value(text, "SELINUX", state), "SELINUXTYPE", policy)
        old_state = config_value(text, "SELINUX")
        if new != text:
            steps.append(Upload(new.encode(), args["configfile"], mode="0644"))
            if old_state != state:
                msgs.append(f"Config SELinux state changed from '{old_state}' to '{state}'")
            if config_value(text, "SELINUXTYPE") != policy:
                msgs.append(f"Config SELinux policy changed from '{config_value(text, 'SELINUXTYPE')}' to "
                            f"'{policy}'")
                result["reboot_required"] = True
        if runtime in ("enforcing", "permissive"):
            if state == "disabled":
                result["reboot_required"] = True
            elif runtime != state:
                steps.append(Command(f"setenforce {'1' if state == 'enforcing' else '0'}"))
                msgs.append(f"Running SELinux state changed from '{runtime}' to '{state}'")
        elif state != "disabled":  # the kernel runs without SELinux: only a reboot turns it on
            result["reboot_required"] = True
        result["msg"] = ", ".join(msgs)
        diff = {"before": text, "after": new} if new != text else None
        return Plan(bool(steps), steps, diff=diff, result=result)
