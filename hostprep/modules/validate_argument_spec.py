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


def _context(msg: str, context: list[str]) -> str:
    return f"{msg} found in {' -> '.join(context)}" if context else msg


def _count(terms: Any, params: Mapping[str, Any]) -> int:
    terms = [terms] if isinstance(terms, str) or not isinstance(terms, (list, tuple)) else terms
    return sum(1 for term in terms if term in params)


def _aliases(spec: Mapping[str, Any], params: dict[str, Any], errors: list[str]) -> dict[str, str]:
    """alias -> option; an alias's value is copied to its option (Ansible's _handle_aliases)."""
    found: dict[str, str] = {}
    for name, opts in spec.items():
        opts = opts or {}
        if opts.get("default") is not None and opts.get("required"):
            errors.append(f"internal error: required and default are mutually exclusive for {name}")
            return {}
        aliases = opts.get("aliases")
        if aliases is None:
            continue
        if isinstance(aliases, str) or not isinstance(aliases, (list, tuple)):
            errors.append("internal error: aliases must be a list or tuple")
            return {}
        for alias in aliases:
            found[alias] = name
            if alias in params:
                params[name] = params[alias]
    return found


def _scan_suboptions(spec: Mapping[str, Any], params: Mapping[str, Any], errors: list[str]) -> None:
    """Ansible's no_log scan, which walks every level of sub-options before the checks and fails on the first
    value that is no dict (a string that is no JSON or k=v dict included): one error for the whole walk."""
    def walk(spec: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        for name, opts in spec.items():
            opts = opts or {}
            sub, value, wanted = opts.get("options"), params.get(name), opts.get("type")
            if sub is None or value is None:
                continue
            if not (wanted == "dict" or (wanted == "list" and opts.get("elements") == "dict")):
                continue
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str):
                    item = _to_dict(item)
                if not isinstance(item, Mapping):
                    raise TypeError(f"Value '{item}' in the sub parameter field '{name}' must be a {wanted}, not "
                                    f"'{type(item).__name__}'")
                walk(sub, item)

    try:
        walk(spec, params)
    except TypeError as exc:
        errors.append(str(exc))


def _relations(opts: Mapping[str, Any], params: Mapping[str, Any], context: list[str]) -> list[str]:
    """A sub-spec's required_together, required_one_of, required_if and required_by, in Ansible's order (the first
    failing term of each kind is reported)."""
    out = []
    for term in opts.get("required_together") or []:
        counts = [_count(field, params) for field in term]
        if any(counts) and 0 in counts:
            out.append(_context(f"parameters are required together: {', '.join(term)}", context))
            break
    for term in opts.get("required_one_of") or []:
        if _count(term, params) == 0:
            out.append(_context(f"one of the following is required: {', '.join(term)}", context))
            break
    for req in opts.get("required_if") or []:
        key, val, needed = req[0], req[1], req[2]
        any_of = len(req) == 4 and bool(req[3])
        missing = [n for n in needed if _count(n, params) == 0] if key in params and params[key] == val else []
        if missing and len(missing) >= (len(needed) if any_of else 0):
            out.append(_context(f"{key} is {val} but {'any' if any_of else 'all'} of the following are missing: "
                                f"{', '.join(missing)}", context))
            break
    for key, needed in (opts.get("required_by") or {}).items():
        if params.get(key) is None:
            continue
        needed = [needed] if isinstance(needed, str) else needed
        missing = [n for n in needed if params.get(n) is None]
        if missing:
            out.append(_context(f"missing parameter(s) required by '{key}': {', '.join(missing)}", context))
            break
    return out


def _check_types(spec: Mapping[str, Any], params: dict[str, Any], context: list[str], errors: list[str]) -> None:
    where = f" found in '{' -> '.join(context)}'" if context else ""
    for name, opts in spec.items():
        opts = opts or {}
        if name not in params:
            continue
        value = params[name]
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
            errors.append(f"argument '{name}' is of type {_type_name(params[name])}{where + '.' if where else ''} and "
                          f"we were unable to convert to {wanted}: {exc}")
            continue
        elements = opts.get("elements")
        if elements:
            if not isinstance(value, list):
                errors.append(f"Invalid type {wanted} for option '{value}'{where + '.' if where else ''}, elements "
                              "value check is supported only with 'list' type")
                value = [value] if not isinstance(value, (str, Mapping)) else list(value)
            converted = []
            for item in value:
                try:
                    converted.append(CHECKERS.get(elements, CHECKERS["raw"])(item))
                except (TypeError, ValueError) as exc:
                    errors.append(f"Elements value for option '{name}'{where} is of type {_type_name(item)} and we "
                                  f"were unable to convert to {elements}: {exc}")
            value = converted
        params[name] = value


def _check_choices(spec: Mapping[str, Any], params: Mapping[str, Any], context: list[str], errors: list[str]) -> None:
    for name, opts in spec.items():
        choices = (opts or {}).get("choices")
        if choices is None or name not in params:
            continue
        value = params[name]
        if isinstance(value, list):
            bad = [v for v in value if v not in choices]
            if bad:
                errors.append(_context(f"value of {name} must be one or more of: {', '.join(map(str, choices))}. Got "
                                       f"no match for: {', '.join(map(str, bad))}", context))
        elif value not in choices:
            errors.append(_context(f"value of {name} must be one of: {', '.join(map(str, choices))}, got: {value}",
                                   context))


def _set_defaults(spec: Mapping[str, Any], params: dict[str, Any], all_of_them: bool) -> None:
    for name, opts in spec.items():
        default = (opts or {}).get("default")
        if name not in params and (default is not None or all_of_them):
            params[name] = default


def _unsupported(spec: Mapping[str, Any], params: Mapping[str, Any], aliases: Mapping[str, str], context: list[str],
                 unsupported: dict[Any, str]) -> None:
    legal = set(aliases) | set(spec)
    for key in params:
        if key not in legal:
            supported = ", ".join(sorted(map(str, spec)))
            if aliases:
                supported += f" ({', '.join(sorted(aliases))})"
            unsupported[tuple([*context, key]) if context else key] = supported


def _sub_specs(spec: Mapping[str, Any], params: dict[str, Any], context: list[str], errors: list[str],
               unsupported: dict[Any, str]) -> None:
    """Options of type dict (or list of dicts) with their own `options`: each value checked as Ansible's
    _validate_sub_spec does (aliases, unknown keys, mutually_exclusive, required, types, choices, the
    required_* relations, defaults; `apply_defaults` makes a missing value an empty dict), recursively."""
    for name, opts in spec.items():
        opts = opts or {}
        wanted = opts.get("type")
        if not (wanted == "dict" or (wanted == "list" and opts.get("elements") == "dict")):
            continue
        sub = opts.get("options")
        if opts.get("apply_defaults"):
            if sub is None:
                continue
            if params.get(name) is None:
                params[name] = {}
        elif sub is None or params.get(name) is None:
            continue
        context.append(name)
        value = params[name]
        elements = value if isinstance(value, list) else [value]
        for item in elements:
            if not isinstance(item, dict):
                errors.append(f"value of '{name}' must be of type dict or list of dicts")
                continue
            aliases = _aliases(sub, item, errors)
            _scan_suboptions(sub, item, errors)
            _unsupported(sub, item, aliases, context, unsupported)
            exclusive = [term for term in opts.get("mutually_exclusive") or [] if _count(term, item) > 1]
            if exclusive:
                terms = ", ".join("|".join(t) for t in exclusive)
                errors.append(_context(f"parameters are mutually exclusive: {terms}", context))
            _set_defaults(sub, item, False)
            missing = sorted(n for n, o in sub.items() if (o or {}).get("required") and n not in item)
            if missing:
                errors.append(_context(f"missing required arguments: {', '.join(missing)}", context))
            _check_types(sub, item, context, errors)
            _check_choices(sub, item, context, errors)
            errors.extend(_relations(opts, item, context))
            _set_defaults(sub, item, True)
            _sub_specs(sub, item, context, errors, unsupported)
        context.pop()


def validate(spec: Mapping[str, Any], values: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    """Ansible's ArgumentSpecValidator for a role: its error messages in its order (aliases, missing required
    arguments, types in spec order, choices, nested options, then params not in the spec)."""
    errors: list[str] = []
    merged = {**values, **params}
    aliases = _aliases(spec, merged, errors)
    _scan_suboptions(spec, merged, errors)
    unsupported: dict[Any, str] = {}
    _unsupported(spec, params, aliases, [], unsupported)
    _set_defaults(spec, merged, False)  # checked as Ansible checks them; never set as variables
    missing = sorted(name for name, opts in spec.items() if (opts or {}).get("required") and name not in merged)
    if missing:
        errors.append(f"missing required arguments: {', '.join(missing)}")
    _check_types(spec, merged, [], errors)
    _check_choices(spec, merged, [], errors)
    _set_defaults(spec, merged, True)
    _sub_specs(spec, merged, [], errors, unsupported)
    if unsupported:
        names = sorted(".".join(k) if isinstance(k, tuple) else k for k in unsupported)
        last = max(unsupported, key=lambda k: ".".join(k) if isinstance(k, tuple) else k)
        errors.append(f"{', '.join(names)}. Supported parameters include: {unsupported[last]}.")
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
