"""package: install or remove packages with whatever manager the host has (dnf, yum or apt).

As Ansible's, every argument but `use` goes to the backend module unchanged (`enablerepo`,
`allow_downgrade`, ...): an argument no backend knows is refused at load time, one the chosen backend
does not know fails the task on that host.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules.base import Arg, Module, ProbeResult, TaskContext

_BACKENDS = ("dnf", "yum", "apt")


def _backend_class(name: str) -> Any:
    from hostprep.modules import get_module

    return get_module(name)


def _backend_arg_names() -> set[str]:
    names: set[str] = set()
    for backend in _BACKENDS:
        cls = _backend_class(backend)
        if cls is None:
            continue
        for arg, spec in cls.args.items():
            names.update((arg, *spec.aliases))
    return names


class PackageModule(Module):
    name = "package"
    doc = ("Generic package management: the manager comes from `use`, else the host's pkg_mgr fact, else the "
           "first of dnf, yum, apt-get found on the host; every other argument goes to that module unchanged.")
    examples = "- package:\n    name: curl\n    state: present\n    enablerepo: epel\n"
    args = {
        "name": Arg("list", elements="str", required=True),
        "state": Arg("str", required=True, doc="present, latest, absent (and what the backend accepts)."),
        "use": Arg("str", default="auto", choices=("auto", *_BACKENDS)),
    }
    accepts_any_args = True  # the backend's arguments

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Own arguments checked here; the rest kept for the backend (refused if no backend knows them)."""
        from hostprep.modules.argspec import validate_args

        own = {k: v for k, v in raw.items() if k in self.args}
        extra = {k: v for k, v in raw.items() if k not in self.args}
        known = _backend_arg_names()
        for key in extra:
            if key not in known:
                raise ModuleArgError(f"package: unsupported argument {key!r} (not an argument of "
                                     f"{', '.join(_BACKENDS)})", key=key)
        out = validate_args(self, own)
        out["_backend_args"] = extra
        return out

    def _backend_args(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"name": args["name"], "state": args["state"], **args.get("_backend_args", {})}

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
        backend = args["use"] if args["use"] != "auto" else (facts or {}).get("pkg_mgr")
        module_cls = _backend_class(str(backend)) if backend in _BACKENDS else None
        if module_cls is None:
            return None
        module = module_cls()
        try:
            inner = module.validate(self._backend_args(args))
        except ModuleArgError:
            return None  # the run reports it
        return module.lookahead_probe(inner, facts)

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: ProbeResult | None = None) -> dict[str, Any]:
        backend = self._backend(args, ctx)
        module_cls = _backend_class(backend)
        if module_cls is None:
            return {"failed": True, "changed": False, "msg": f"package: no module for package manager {backend!r}"}
        module = module_cls()
        try:
            inner = module.validate(self._backend_args(args))
        except ModuleArgError as exc:
            return {"failed": True, "changed": False, "msg": f"package (backend {backend}): {exc.message}"}
        result = module.run(inner, ctx)
        result.setdefault("ansible_facts", {"pkg_mgr": backend})
        return result
