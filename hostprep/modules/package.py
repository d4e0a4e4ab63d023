"""package: install or remove packages with whatever manager the host has (dnf, yum or apt)."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Module, ProbeResult, TaskContext

_BACKENDS = ("dnf", "yum", "apt")


class PackageModule(Module):
    name = "package"
    doc = ("Generic package management: the manager comes from `use`, else the host's pkg_mgr fact, else the "
           "first of dnf, yum, apt-get found on the host; the arguments go to that module unchanged.")
    examples = "- package:\n    name: curl\n    state: present\n"
    args = {
        "name": Arg("list", elements="str", required=True),
        "state": Arg("str", required=True, doc="present, latest, absent (and what the backend accepts)."),
        "use": Arg("str", default="auto", choices=("auto", *_BACKENDS)),
    }

    def _backend(self, args: dict[str, Any], ctx: TaskContext) -> str:
        if args["use"] != "auto":
            return args["use"]
        mgr = (ctx.facts or {}).get("pkg_mgr") or (ctx.facts or {}).get("ansible_pkg_mgr")
        if mgr in _BACKENDS:
            return str(mgr)
        res = ctx.probe("command -v dnf || command -v yum || command -v apt-get", become=False)
        found = res.stdout.strip().rsplit("/", 1)[-1]
        return {"apt-get": "apt"}.get(found, found or "dnf")

    def lookahead_probe(self, args: dict[str, Any], facts: Any) -> str | None:
        from hostprep.modules import get_module

        backend = args["use"] if args["use"] != "auto" else (facts or {}).get("pkg_mgr")
        module_cls = get_module(str(backend)) if backend in _BACKENDS else None
        if module_cls is None:
            return None
        module = module_cls()
        return module.probe(module.validate({"name": args["name"], "state": args["state"]}))

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: ProbeResult | None = None) -> dict[str, Any]:
        from hostprep.modules import get_module

        backend = self._backend(args, ctx)
        module_cls = get_module(backend)
        if module_cls is None:
            return {"failed": True, "changed": False, "msg": f"package: no module for package manager {backend!r}"}
        module = module_cls()
        inner = module.validate({"name": args["name"], "state": args["state"]})
        result = module.run(inner, ctx)
        result.setdefault("ansible_facts", {"pkg_mgr": backend})
        return result
