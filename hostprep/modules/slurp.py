"""slurp: read a file from the host (base64 content)."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q


class SlurpModule(Module):
    name = "slurp"
    doc = "Fetch a file's content from the host as base64 (`content`, `encoding: base64`)."
    examples = "- slurp:\n    src: /etc/docker/daemon.json\n  register: daemon\n"
    args = {"src": Arg("path", required=True, aliases=("path",))}

    def probe(self, args: dict[str, Any]) -> str | None:
        return f"if [ -f {q(args['src'])} ]; then base64 -w0 < {q(args['src'])}; else echo MISSING >&2; exit 3; fi"

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        if probe is None or probe.rc != 0:
            return Plan(failed=True, msg=f"file not found: {args['src']}")
        return Plan(False, result={"content": probe.stdout.strip(), "encoding": "base64", "source": args["src"]})
