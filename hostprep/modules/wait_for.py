"""wait_for: wait on the host until a port or path reaches a state (or a timeout passes)."""

from __future__ import annotations

import time
from typing import Any

from hostprep.modules.base import Arg, Module, ProbeResult, TaskContext
from hostprep.modules.shellutil import q


class WaitForModule(Module):
    name = "wait_for"
    doc = ("Poll until a TCP port is open/closed or a file exists/is gone/contains a regex; fail after "
           "timeout seconds. The checks run on the host (or on the controller with delegate_to: localhost).")
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
        "exclude_hosts": Arg("list", elements="str"),
        "active_connection_states": Arg("list", elements="str"),
    }
    mutually_exclusive = (("port", "path"),)

    def _check(self, args: dict[str, Any]) -> str:
        state = args["state"]
        if args.get("port") is not None:
            probe = "exec 3<>/dev/tcp/{}/{}".format(args["host"], args["port"])
            test = f"timeout {args['connect_timeout']} bash -c {q(probe)} 2>/dev/null"
            return test if state in ("started", "present") else f"! {test}"
        if args.get("path"):
            p = q(args["path"])
            if state == "absent":
                return f"[ ! -e {p} ]"
            if args.get("search_regex"):
                return f"[ -e {p} ] && grep -Eq {q(args['search_regex'])} {p}"
            return f"[ -e {p} ]"
        return "true"

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: ProbeResult | None = None) -> dict[str, Any]:
        started = time.monotonic()
        if args["delay"]:
            time.sleep(args["delay"])
        check = self._check(args)
        # one round trip polls on the host until done or timeout
        script = (f"end=$(( $(date +%s) + {args['timeout']} )); while :; do if {check}; then echo ok; exit 0; fi; "
                  f"[ $(date +%s) -ge $end ] && exit 1; sleep {max(1, args['sleep'])}; done")
        res = ctx.run(script, become=False, timeout=args["timeout"] + 30)
        elapsed = int(time.monotonic() - started)
        if res.rc == 0 and "ok" in res.stdout:
            return {"changed": False, "elapsed": elapsed, "state": args["state"], "port": args.get("port"),
                    "path": args.get("path")}
        what = f"port {args['port']}" if args.get("port") is not None else f"path {args.get('path')}"
        return {"failed": True, "changed": False, "elapsed": elapsed,
                "msg": args.get("msg") or f"Timeout when waiting for {what} to be {args['state']}"}
