"""validate_argument_spec: check variables against an argument spec (controller side).

What Ansible runs first in a role with `meta/argument_specs.yml` (the implicit "Validating arguments against
arg spec ..." task): the variables the spec names (and the role's params) are checked for required, type
(with list elements) and choices, with Ansible's messages. Nothing is set: a spec's `default` documents, it
does not define a variable (as in Ansible).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from hostprep.modules.base import Arg, Module, TaskContext

_TRUE = ("y", "yes", "on", "1", "true", "t", 1, 1.0, True)
_FALSE = ("n", "no", "off", "0", "false", "f", 0, 0.0, False)
_VALID_BOOLEANS = (0, 1, "1", "t", "f", "off", "0", "on", "false", "no", "y", "true", "yes", "n")


def _type_name(value: Any) -> str:
    return type(value).__name__


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else str(value)


def _to_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, bool):
        return int(value)
    try:
        number = float(value) if isinstance(value, float) else float(str(value).strip())
        if number != int(number):
            raise ValueError
        return int(number)
    except (TypeError, ValueError):
        raise TypeError(f'"{value!r}" cannot be converted to an int') from None


def _to_float(value: Any) -> float:
    if isinstance(value, float):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"<class '{_type_name(value)}'> cannot be converted to a float") from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if not isinstance(value, (str, int, float)):
        raise TypeError(f"<class '{_type_name(value)}'> cannot be converted to a bool")
    normal = value.lower().strip() if isinstance(value, str) else value
    if normal in _TRUE:
        return True
    if normal in _FALSE:
        return False
    raise TypeError(f"The value '{value}' is not a valid boolean. Valid booleans include: "
                    + ", ".join(repr(b) for b in _VALID_BOOLEANS))


def _to_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return value.split(",")
    if isinstance(value, (int, float)):
        return [str(value)]
    raise TypeError(f"<class '{_type_name(value)}'> cannot be converted to a list")


def _to_dict(value: Any) -> dict[Any, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        if value.startswith("{"):
            try:
                return json.loads(value)
            except ValueError:
                raise TypeError("unable to evaluate string as dictionary") from None
        if "=" in value:
            try:
                return dict(x.split("=", 1) for x in value.split())
            except ValueError:
                raise TypeError('unable to evaluate string in the "key=value" format as dictionary') from None
        raise TypeError("dictionary requested, could not parse JSON or key=value")
    raise TypeError(f"<class '{_type_name(value)}'> cannot be converted to a dict")


def _to_path(value: Any) -> str:
    return os.path.expanduser(os.path.expandvars(_to_str(value)))


CHECKERS = {"str": _to_str, "int": _to_int, "float": _to_float, "bool": _to_bool, "list": _to_list,
            "dict": _to_dict, "path": _to_path, "raw": lambda v: v}


def validate(spec: Mapping[str, Any], values: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    """Ansible's ArgumentSpecValidator for a role: its error messages in its order (params not in the spec,
    missing required arguments, types in spec order, then choices)."""
    errors: list[str] = []
    merged = {**values, **params}
    missing = sorted(name for name, opts in spec.items() if (opts or {}).get("required") and name not in merged)
    if missing:
        errors.append(f"missing required arguments: {', '.join(missing)}")
    checked: dict[str, Any] = {}
    for name, opts in spec.items():
        opts = opts or {}
        if name not in merged:
            if opts.get("default") is None:
                continue
            merged[name] = opts["default"]  # checked as Ansible checks it; never set as a variable
        value = merged[name]
        if value is None and not opts.get("required") and opts.get("default") is None:
            continue
        wanted = opts.get("type", "str")
        checker = CHECKERS.get(wanted)
        if checker is None:
            errors.append(f"argument '{name}': type {wanted!r} is not supported by hostprep")
            continue
        try:
            value = checker(value)
        except (TypeError, ValueError) as exc:
            errors.append(f"argument '{name}' is of type {_type_name(merged[name])} and we were unable to convert to "
                          f"{wanted}: {exc}")
            continue
        elements = opts.get("elements")
        if elements:
            if not isinstance(value, list):
                errors.append(f"Invalid type {wanted} for option '{value}', elements value check is supported only "
                              "with 'list' type")
            else:
                converted = []
                for item in value:
                    try:
                        converted.append(CHECKERS.get(elements, CHECKERS["raw"])(item))
                    except (TypeError, ValueError) as exc:
                        errors.append(f"Elements value for option '{name}' is of type {_type_name(item)} and we "
                                      f"were unable to convert to {elements}: {exc}")
                value = converted
        checked[name] = value
    for name, opts in spec.items():
        choices = (opts or {}).get("choices")
        if choices is None or name not in checked:
            continue
        value = checked[name]
        if isinstance(value, list):
            bad = [v for v in value if v not in choices]
            if bad:
                errors.append(f"value of {name} must be one or more of: {', '.join(map(str, choices))}. Got no "
                              f"match for: {', '.join(map(str, bad))}")
        elif value not in choices:
            errors.append(f"value of {name} must be one of: {', '.join(map(str, choices))}, got: {value}")
    unknown = sorted(str(k) for k in params if k not in spec)
    if unknown:
        errors.append(f"{', '.join(unknown)}. Supported parameters include: {', '.join(sorted(map(str, spec)))}.")
    return errors


class ValidateArgumentSpec(Module):
    name = "validate_argument_spec"
    runs_on = "controller"
    doc = "Validate variables against an argument spec (what a role's meta/argument_specs.yml runs first)."
    examples = ("- validate_argument_spec:\n    argument_spec:\n      port: {type: int, required: true}\n"
                "    provided_arguments:\n      port: 80\n")
    args = {
        "argument_spec": Arg("dict", required=True, doc="The options: name -> {type, required, choices, elements}."),
        "provided_arguments": Arg("dict", default={}, doc="Values checked with the variables the spec names."),
        "validate_args_context": Arg("dict", default={}, doc="What is validated (a role's name, path, entry point)."),
    }

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: Any = None) -> dict[str, Any]:
        spec = args["argument_spec"]
        templar = ctx.templar
        values = {}
        for name in spec:
            if name in ctx.variables:
                value = ctx.variables[name]
                values[name] = templar.render(value) if templar is not None else value
        errors = validate(spec, values, args.get("provided_arguments") or {})
        result: dict[str, Any] = {"changed": False, "validate_args_context": args.get("validate_args_context") or {}}
        if errors:
            return {**result, "failed": True, "msg": "Validation of arguments failed:\n" + "\n".join(errors),
                    "argument_spec_data": spec, "argument_errors": errors}
        return {**result, "msg": "The arg spec validation passed"}
