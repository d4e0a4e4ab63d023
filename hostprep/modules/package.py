"""package: install or remove packages with whatever manager the host has (dnf, yum or apt)."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Module, ProbeResult, TaskContext


class PackageModule(Module):
    name = "package"
    doc = "Generic package management: picks dnf/yum or apt from the host's facts (or `use`)."
    examples = "- package:\n    name: curl\n    state: present\n"
    args = {
        "name": Arg("list", elements="str", required=True),
        "state": Arg("str", default="present", choices=("present", "installed", "latest", "absent", "removed")),
        "use": Arg("str", default="auto", choices=("auto", "dnf", "yum", "apt")),
    }

    def _backend(self, args: dict[str, Any], ctx: TaskContext) -> str:
        if args["use"] != "auto":
            return args["use"]
        mgr = (ctx.facts or {}).get("pkg_mgr")
        if mgr in ("dnf", "yum", "apt"):
            return mgr
        res = ctx.run("command -v dnf || command -v yum || command -v apt-get", become=False)
        found = res.stdout.strip().rsplit("/", 1)[-1]
        return {"apt-get": "apt"}.get(found, found or "dnf")

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: ProbeResult | None = None) -> dict[str, Any]:
        from hostprep.modules import get_module

        backend = self._backend(args, ctx)
        module = get_module(backend)()
        inner = module.validate({"name": args["name"], "state": args["state"]})
        return module.run(inner, ctx)
