"""Argument checking with Ansible's names, aliases, types and boolean rules."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hostprep.errors import ModuleArgError
from hostprep.modules.plan import Arg
from hostprep.values import to_bool

if TYPE_CHECKING:
    from hostprep.modules.base import Module


def _convert(value: Any, spec: Arg, name: str, module: str) -> Any:
    if value is None:
        return None
    kind = spec.type
    try:
        if kind in ("str", "path"):
            if isinstance(value, (dict, list)):
                raise ModuleArgError(f"{module}: expected a string, got {type(value).__name__}", key=name)
            if isinstance(value, bool):
                return "True" if value else "False"
            text = str(value)
            if kind == "path":
                import os

                text = os.path.expanduser(text) if text.startswith("~") and False else text
            return text
        if kind == "bool":
            return to_bool(value, name)
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "mode":
            # Ansible: an int is taken as-is (0644 in YAML is octal 420), a string as octal or symbolic
            if isinstance(value, int) and not isinstance(value, bool):
                return format(value, "04o")
            return str(value)
        if kind == "list":
            if isinstance(value, str):
                items: list[Any] = [v.strip() for v in value.split(",")] if value else []
            elif isinstance(value, (list, tuple)):
                items = list(value)
            elif isinstance(value, (int, float)):
                items = [str(value)]
            else:
                raise ValueError
            if spec.elements:
                inner = Arg(type=spec.elements)
                items = [_convert(v, inner, name, module) for v in items]
            return items
        if kind == "dict":
            if isinstance(value, Mapping):
                return dict(value)
            if isinstance(value, str):
                text = value.strip()
                if text.startswith("{"):
                    return json.loads(text)
                out = {}
                for part in text.split(","):
                    if "=" not in part:
                        raise ValueError
                    k, v = part.split("=", 1)
                    out[k.strip()] = v.strip()
                return out
            raise ValueError
        if kind == "raw":
            return value
    except ModuleArgError:
        raise
    except (ValueError, TypeError, json.JSONDecodeError):
        raise ModuleArgError(
            f"{module}: {value!r} is not a valid {kind} for argument {name}", key=name
        ) from None
    raise ModuleArgError(f"{module}: unknown argument type {kind!r}", key=name)


def validate_args(module: Module, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Resolve aliases, refuse unknown names, convert types, apply defaults and choices."""
    name = module.name
    alias_map: dict[str, str] = {}
    for arg_name, spec in module.args.items():
        alias_map[arg_name] = arg_name
        for alias in spec.aliases:
            alias_map[alias] = arg_name
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in alias_map:
            known = ", ".join(sorted(module.args))
            raise ModuleArgError(f"{name}: unsupported argument {key!r} (known: {known})", key=key)
        canonical = alias_map[key]
        if canonical in out:
            raise ModuleArgError(f"{name}: argument {canonical!r} given twice (alias {key!r})", key=key)
        out[canonical] = _convert(value, module.args[canonical], key, name)
    for arg_name, spec in module.args.items():
        if out.get(arg_name) is None:
            if spec.required and arg_name not in out:
                raise ModuleArgError(f"{name}: missing required argument {arg_name!r}", key=arg_name)
            if spec.required and out.get(arg_name) is None:
                raise ModuleArgError(f"{name}: argument {arg_name!r} must not be empty", key=arg_name)
            out[arg_name] = spec.default
        if spec.choices is not None and out[arg_name] is not None:
            values = out[arg_name] if isinstance(out[arg_name], list) else [out[arg_name]]
            for v in values:
                if v not in spec.choices:
                    choices = ", ".join(map(str, spec.choices))
                    raise ModuleArgError(
                        f"{name}: value {v!r} of {arg_name} is not one of: {choices}", key=arg_name
                    )
    given = {k for k in raw}
    given_canonical = {alias_map[k] for k in given}
    for group in module.mutually_exclusive:
        hit = [a for a in group if a in given_canonical and out.get(a) is not None]
        if len(hit) > 1:
            raise ModuleArgError(f"{name}: arguments are mutually exclusive: {', '.join(hit)}", key=hit[0])
    for group in module.required_one_of:
        if not any(out.get(a) is not None for a in group):
            raise ModuleArgError(f"{name}: one of these is required: {', '.join(group)}", key=group[0])
    return out
