"""wait_for: wait on the host until a port or path reaches a state (or a timeout passes).

The whole poll loop runs on the host in one round trip, so waiting costs no SSH traffic per
attempt. Ports are checked with bash's /dev/tcp (bash is on every EL host), connections for
state=drained with `ss`. With neither port nor path it just waits `timeout` seconds, as Ansible does.
"""

from __future__ import annotations

import re
import time
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules.base import Arg, Module, ProbeResult, TaskContext
from hostprep.modules.shellutil import q

SS_STATES = {  # Ansible's active_connection_states -> ss state names
    "ESTABLISHED": "established", "FIN_WAIT1": "fin-wait-1", "FIN_WAIT2": "fin-wait-2", "SYN_RECV": "syn-recv",
    "SYN_SENT": "syn-sent", "TIME_WAIT": "time-wait", "CLOSE_WAIT": "close-wait", "LAST_ACK": "last-ack",
    "CLOSING": "closing",
}
HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:_-]*$")
DEFAULT_ACTIVE = ("ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "SYN_RECV", "SYN_SENT", "TIME_WAIT")


def port_check(host: str, port: int, connect_timeout: int, search_regex: str | None) -> str:
    """A shell test that succeeds when host:port accepts a connection (and sends text matching the regex)."""
    opener = f"exec 3<>/dev/tcp/{host}/{port}"
    if search_regex:
        # match line by line inside bash, so a server that keeps the connection open answers at once
        reader = (f"{opener}; while IFS= read -r line <&3 || [ -n \"$line\" ]; do "
                  "[[ $line =~ $HP_REGEX ]] && exit 0; done; exit 1")
        return f"HP_REGEX={q(search_regex)} timeout {connect_timeout} bash -c {q(reader)} 2>/dev/null"
    return f"timeout {connect_timeout} bash -c {q(opener)} 2>/dev/null"


def drained_check(port: int, states: list[str]) -> str:
    """A shell test that succeeds when no connection to local port `port` is in one of `states`."""
    filters = " ".join(f"state {SS_STATES[s]}" for s in states)
    return f"[ -z \"$(ss -Htn {filters} '( sport = :{port} )' 2>/dev/null)\" ]"


def build_check(args: dict[str, Any]) -> str | None:
    """The shell test for the wanted state, or None when only waiting out the timeout."""
    state = args["state"]
    if args.get("port") is not None:
        if state == "drained":
            return drained_check(args["port"], args["active_connection_states"])
        test = port_check(args["host"], args["port"], args["connect_timeout"], args.get("search_regex"))
        return test if state in ("started", "present") else f"! {test}"
    if args.get("path"):
        p = q(args["path"])
        if state in ("absent", "stopped"):
            return f"[ ! -e {p} ]"
        if args.get("search_regex"):
            return f"[ -e {p} ] && grep -Eq {q(args['search_regex'])} {p}"
        return f"[ -e {p} ]"
    return None


def poll_script(check: str | None, timeout: int, sleep: int) -> str:
    """One remote loop: print 'ok' and exit 0 when the check passes, exit 1 after `timeout` seconds."""
    if check is None:
        return f"sleep {timeout}; echo ok"
    return (f"end=$(( $(date +%s) + {timeout} )); while :; do if {check}; then echo ok; exit 0; fi; "
            f"[ $(date +%s) -ge $end ] && exit 1; sleep {max(1, sleep)}; done")


class WaitForModule(Module):
    name = "wait_for"
    doc = ("Poll until a TCP port is open/closed/drained or a file exists/is gone/contains a regex; fail after "
           "timeout seconds. The checks run on the host (with delegate_to: localhost, on the controller).")
    examples = "- wait_for:\n    port: 2375\n    host: 127.0.0.1\n    timeout: 30\n"
    args = {
        "host": Arg("str", default="127.0.0.1"),
        "port": Arg("int"),
        "path": Arg("path"),
        "state": Arg("str", default="started", choices=("started", "stopped", "present", "absent", "drained")),
        "search_regex": Arg("str"),
        "delay": Arg("int", default=0),
        "timeout": Arg("int", default=300),
        "sleep": Arg("int", default=1),
        "connect_timeout": Arg("int", default=5),
        "msg": Arg("str"),
        "active_connection_states": Arg("list", elements="str", default=list(DEFAULT_ACTIVE)),
    }
    mutually_exclusive = (("port", "path"),)

    def validate(self, raw: Any) -> dict[str, Any]:
        args = super().validate(raw)
        if args["state"] == "drained" and args.get("port") is None:
            raise ModuleArgError("wait_for: state=drained needs a port", key="state")
        if args.get("path") and args["state"] == "drained":
            raise ModuleArgError("wait_for: state=drained is only for ports", key="state")
        if not args.get("port") and not args.get("path") and args.get("search_regex"):
            raise ModuleArgError("wait_for: search_regex needs a port or a path", key="search_regex")
        bad = [s for s in args["active_connection_states"] if s not in SS_STATES]
        if bad:
            raise ModuleArgError(f"wait_for: unknown connection state(s) {', '.join(bad)}",
                                 key="active_connection_states")
        if not HOST.match(args["host"]):  # it ends up inside a bash -c string
            raise ModuleArgError(f"wait_for: {args['host']!r} is not a host name or address", key="host")
        return args

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: ProbeResult | None = None) -> dict[str, Any]:
        started = time.monotonic()
        if args["delay"]:
            time.sleep(args["delay"])
        check = build_check(args)
        res = ctx.run(poll_script(check, args["timeout"], args["sleep"]), become=False,
                      timeout=args["timeout"] + args["connect_timeout"] + 30)
        elapsed = int(time.monotonic() - started)
        base = {"changed": False, "elapsed": elapsed, "state": args["state"]}
        if args.get("port") is not None:
            base["port"] = args["port"]
        if args.get("path"):
            base["path"] = args["path"]
        if res.rc == 0 and "ok" in res.stdout:
            return base
        what = f"{args['host']}:{args['port']}" if args.get("port") is not None else f"{args.get('path')}"
        return {**base, "failed": True,
                "msg": args.get("msg") or f"Timeout when waiting for {what} to be {args['state']}"}
