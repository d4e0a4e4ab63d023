"""include_vars: load variables from a YAML/JSON file or directory (controller side)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules.base import Arg, Module, TaskContext


class IncludeVars(Module):
    name = "include_vars"
    runs_on = "controller"
    free_form = "file"
    doc = "Load variables from a file (or every file of a directory) at include_vars precedence."
    examples = "- include_vars: RedHat-9.yml\n- include_vars:\n    dir: vars/extra\n    name: extra\n"
    args = {
        "file": Arg("path", doc="A vars file (relative to the role's vars/ or the playbook)."),
        "dir": Arg("path", doc="A directory of vars files."),
        "name": Arg("str", doc="Put the variables under this one name."),
        "depth": Arg("int", default=0),
        "files_matching": Arg("str"),
        "ignore_files": Arg("list", elements="str", default=[]),
        "extensions": Arg("list", elements="str", default=["json", "yaml", "yml"]),
        "ignore_unknown_extensions": Arg("bool", default=False),
    }
    mutually_exclusive = (("file", "dir"),)
    required_one_of = (("file", "dir"),)

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: Any = None) -> dict[str, Any]:
        import re

        from hostprep.yamlsource import load_yaml_file

        files: list[Path] = []
        if args.get("file"):
            files.append(ctx.find_file(args["file"], "vars"))  # type: ignore[misc]
        else:
            base = ctx.find_file(args["dir"], "vars")  # type: ignore[misc]
            pattern = re.compile(args["files_matching"]) if args.get("files_matching") else None
            for path in sorted(base.rglob("*") if not args["depth"] else base.glob("*")):
                if not path.is_file() or path.suffix.lstrip(".") not in args["extensions"]:
                    continue
                if path.name in args["ignore_files"] or (pattern and not pattern.search(path.name)):
                    continue
                files.append(path)
        data: dict[str, Any] = {}
        for path in files:
            loaded = load_yaml_file(path) or {}
            if not isinstance(loaded, dict):
                raise ModuleArgError("a vars file must hold a mapping", file=str(path))
            data.update(loaded)
        facts = {args["name"]: data} if args.get("name") else data
        return {"changed": False, "ansible_facts": facts, "ansible_included_var_files": [str(f) for f in files],
                "_hostprep_include_vars": True}
