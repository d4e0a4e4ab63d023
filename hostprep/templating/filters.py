"""The Jinja2 filters real Ansible roles use, written for hostprep with Ansible's meanings."""

from __future__ import annotations

import base64
import datetime
import hashlib
import itertools
import json
import os
import posixpath
import re
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

import yaml
from jinja2 import Undefined
from jinja2.exceptions import FilterArgumentError

from hostprep.templating.filters_more import FILTERS_MORE
from hostprep.templating.lookups import subelements
from hostprep.templating.sequences import f_flatten


class FilterError(FilterArgumentError):
    """A filter got a value it cannot work with."""


def f_bool(value: Any) -> bool:
    """Ansible's bool filter: yes/on/true/1 and no/off/false/0 (any case; ints and bools by their text);
    anything else is False (Ansible warns that this coercion is deprecated), except the number 1."""
    text = str(value).lower() if isinstance(value, (str, int)) else value
    if text in ("yes", "on", "true", "1"):
        return True
    if text in ("no", "off", "false", "0"):
        return False
    return value == 1


def f_to_json(value: Any, **kw: Any) -> str:
    return json.dumps(value, default=str, **kw)


def f_to_nice_json(value: Any, indent: int = 4, sort_keys: bool = True, **kw: Any) -> str:
    return json.dumps(value, indent=indent, sort_keys=sort_keys, separators=(",", ": "), default=str, **kw)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """libyaml's emitter when present, as Ansible's dumper (no '...' after a lone scalar)."""


_Dumper.add_multi_representer(str, lambda d, v: d.represent_str(str(v)))
_Dumper.add_multi_representer(dict, lambda d, v: d.represent_dict(dict(v)))
_Dumper.add_multi_representer(list, lambda d, v: d.represent_list(list(v)))


def f_to_yaml(value: Any, **kw: Any) -> str:
    kw.setdefault("allow_unicode", True)
    kw.setdefault("default_flow_style", None)
    return yaml.dump(value, Dumper=_Dumper, **kw)


def f_to_nice_yaml(value: Any, indent: int = 4, **kw: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, indent=indent, allow_unicode=True, default_flow_style=False, **kw)


def f_from_json(value: str) -> Any:
    return json.loads(value)


def f_from_yaml(value: str) -> Any:
    return yaml.safe_load(value) if isinstance(value, str) else value


def f_regex_replace(value: Any, pattern: str = "", replacement: str = "", ignorecase: bool = False,
                    multiline: bool = False, count: int = 0) -> str:
    flags = (re.I if ignorecase else 0) | (re.M if multiline else 0)
    return re.sub(pattern, replacement, str(value), count=count, flags=flags)


def f_regex_search(value: Any, pattern: str, *groups: str, ignorecase: bool = False, multiline: bool = False) -> Any:
    flags = (re.I if ignorecase else 0) | (re.M if multiline else 0)
    match = re.search(pattern, str(value), flags)
    if not match:
        return None
    if not groups:
        return match.group(0)
    out = []
    for g in groups:
        named = re.fullmatch(r"\\g<(\w+)>", g)
        numbered = re.fullmatch(r"\\(\d+)", g)
        try:
            if named:
                out.append(match.group(named.group(1)))
            elif numbered:
                out.append(match.group(int(numbered.group(1))))
            else:
                raise FilterError(f"regex_search: unknown argument {g!r} (expected a group reference like '\\1' "
                                  "or '\\g<name>')")
        except (IndexError, re.error):
            raise FilterError(f"regex_search: no group {g!r} in {pattern!r}") from None
    return out


def f_regex_findall(value: Any, pattern: str, ignorecase: bool = False, multiline: bool = False) -> list:
    flags = (re.I if ignorecase else 0) | (re.M if multiline else 0)
    return re.findall(pattern, str(value), flags)


def f_combine(*terms: Any, recursive: bool = False, list_merge: str = "replace") -> dict:
    dicts: list[Mapping] = []
    for t in terms:
        if isinstance(t, Mapping):
            dicts.append(t)
        elif isinstance(t, (list, tuple)):
            dicts.extend(t)
        else:
            raise FilterError(f"combine expects dictionaries, got {type(t).__name__}")
    result: dict = {}
    for d in dicts:
        result = _merge(result, dict(d), recursive, list_merge)
    return result


def _merge(a: dict, b: dict, recursive: bool, list_merge: str) -> dict:
    out = dict(a)
    for k, v in b.items():
        if recursive and isinstance(out.get(k), Mapping) and isinstance(v, Mapping):
            out[k] = _merge(dict(out[k]), dict(v), recursive, list_merge)
        elif isinstance(out.get(k), list) and isinstance(v, list) and list_merge != "replace":
            old = out[k]
            if list_merge == "keep":
                continue
            if list_merge == "append":
                out[k] = old + v
            elif list_merge == "prepend":
                out[k] = v + old
            elif list_merge == "append_rp":
                out[k] = [x for x in old if x not in v] + v
            elif list_merge == "prepend_rp":
                out[k] = v + [x for x in old if x not in v]
            else:
                raise FilterError(f"combine: unknown list_merge {list_merge!r}")
        else:
            out[k] = v
    return out


def f_dict2items(value: Mapping, key_name: str = "key", value_name: str = "value") -> list[dict]:
    if not isinstance(value, Mapping):
        raise FilterError("dict2items requires a dictionary")
    return [{key_name: k, value_name: v} for k, v in value.items()]


def f_items2dict(value: Iterable, key_name: str = "key", value_name: str = "value") -> dict:
    return {item[key_name]: item[value_name] for item in value}


def f_b64encode(value: Any, encoding: str = "utf-8") -> str:
    return base64.b64encode(str(value).encode(encoding)).decode("ascii")


def f_b64decode(value: Any, encoding: str = "utf-8") -> str:
    return base64.b64decode(str(value)).decode(encoding)


def f_hash(value: Any, algorithm: str = "sha1") -> str:
    try:
        h = hashlib.new(algorithm)
    except ValueError:
        raise FilterError(f"hash: unknown algorithm {algorithm!r}") from None
    h.update(str(value).encode("utf-8"))
    return h.hexdigest()


def f_checksum(value: Any) -> str:
    return f_hash(value, "sha1")


def f_password_hash(value: Any, hashtype: str = "sha512", salt: str | None = None, rounds: int | None = None) -> str:
    try:
        import crypt as _crypt  # removed in Python 3.13
    except ImportError:
        raise FilterError("password_hash needs the crypt module (Python < 3.13)") from None

    methods = {"sha512": _crypt.METHOD_SHA512, "sha256": _crypt.METHOD_SHA256}
    if hashtype not in methods:
        raise FilterError(f"password_hash: unsupported hash type {hashtype!r} (sha512, sha256)")
    prefix = "$6$" if hashtype == "sha512" else "$5$"
    # Ansible (passlib) hashes with 656000 (sha512) / 535000 (sha256) rounds unless told; 5000 is implicit
    rounds = rounds or (656000 if hashtype == "sha512" else 535000)
    if salt is None:
        setting = _crypt.mksalt(methods[hashtype], rounds=rounds)
    else:
        setting = prefix + ("" if rounds == 5000 else f"rounds={rounds}$") + salt
    return _crypt.crypt(str(value), setting)


def f_quote(value: Any) -> str:
    return shlex.quote(str(value))


def f_mandatory(value: Any, msg: str | None = None) -> Any:
    if isinstance(value, Undefined):
        name = getattr(value, "_undefined_name", None)
        raise FilterError(msg or f"Mandatory variable {name!r} not defined.")
    return value


def f_ternary(value: Any, true_val: Any, false_val: Any, none_val: Any = None) -> Any:
    if value is None and none_val is not None:
        return none_val
    return true_val if value else false_val


def _hashable_unique(seq: Iterable) -> list:
    out: list = []
    for x in seq:
        if x not in out:
            out.append(x)
    return out


def f_unique(value: Iterable, case_sensitive: bool = True, attribute: str | None = None) -> list:
    return _hashable_unique(value)


def f_union(a: Iterable, b: Iterable) -> list:
    return _hashable_unique(list(a) + list(b))


def f_intersect(a: Iterable, b: Iterable) -> list:
    bl = list(b)
    return _hashable_unique(x for x in a if x in bl)


def f_difference(a: Iterable, b: Iterable) -> list:
    bl = list(b)
    return _hashable_unique(x for x in a if x not in bl)


def f_symmetric_difference(a: Iterable, b: Iterable) -> list:
    al, bl = list(a), list(b)
    return _hashable_unique([x for x in al if x not in bl] + [x for x in bl if x not in al])


def f_zip(*lists: Iterable) -> list:
    return [list(t) for t in zip(*lists, strict=False)]


def f_zip_longest(*lists: Iterable, fillvalue: Any = None) -> list:
    return [list(t) for t in itertools.zip_longest(*lists, fillvalue=fillvalue)]


def f_product(*lists: Iterable) -> list:
    return [list(t) for t in itertools.product(*lists)]


def f_basename(value: Any) -> str:
    return posixpath.basename(str(value))


def f_dirname(value: Any) -> str:
    return posixpath.dirname(str(value))


def f_splitext(value: Any) -> list:
    return list(posixpath.splitext(str(value)))


def f_expanduser(value: Any) -> str:
    return os.path.expanduser(str(value))


def f_realpath(value: Any) -> str:
    return os.path.realpath(str(value))


def f_relpath(value: Any, start: str) -> str:
    return os.path.relpath(str(value), start)


def f_strftime(fmt: str, second: float | None = None, utc: bool = False) -> str:
    when = datetime.datetime.fromtimestamp(second if second is not None else datetime.datetime.now().timestamp(),
                                           tz=datetime.UTC if utc else None)
    return when.strftime(fmt)


def f_to_datetime(value: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> datetime.datetime:
    return datetime.datetime.strptime(value, fmt)


def f_human_readable(size: Any, isbits: bool = False, unit: str | None = None) -> str:
    size = float(size)
    suffix = "b" if isbits else "B"
    for prefix in ("", "K", "M", "G", "T", "P", "E"):
        if abs(size) < 1024 or prefix == "E":
            return f"{size:.2f} {prefix}{suffix}"
        size /= 1024
    return f"{size:.2f} {suffix}"


_NATIVE_TYPES = (bool, int, float, str, bytes, dict, list, tuple, set, frozenset)


def f_type_debug(value: Any) -> str:
    """The native type's name, as Ansible 2.19 prints it: 'dict' for a playbook's mapping, 'str' for any text
    (hostprep's positioned and unsafe subclasses are not shown)."""
    if value is None:
        return "NoneType"
    for native in _NATIVE_TYPES:
        if isinstance(value, native):
            return native.__name__
    return type(value).__name__


def f_split(value: Any, sep: str | None = None, maxsplit: int = -1) -> list:
    return str(value).split(sep, maxsplit)


def f_version(value: Any, version: Any, operator: str = "eq", strict: bool | None = None,
              version_type: str | None = None) -> bool:
    """Not an Ansible filter (the test is); kept because hostprep roles used it as one."""
    from hostprep.templating.versions import compare_versions

    return compare_versions(value, version, operator, strict=strict, version_type=version_type)


def f_dict(value: Any) -> dict:
    return dict(value)


def f_to_list(value: Any) -> list:
    return list(value)


def f_string(value: Any) -> str:
    return str(value)


def f_random(value: Any, start: int = 0, step: int = 1, seed: Any = None) -> Any:
    """Ansible's random: an integer below `value` (from start, by step), or an element of a sequence.

    With `seed` the choice is repeatable (the same seed gives the same answer, as Ansible's
    `seed=inventory_hostname` idiom relies on)."""
    import random

    rng = random.Random(seed) if seed is not None else random.SystemRandom()
    if isinstance(value, int) and not isinstance(value, bool):
        return rng.randrange(start or 0, value, step or 1)
    if isinstance(value, (str, list, tuple)) and value:
        return rng.choice(list(value))
    raise FilterArgumentError(f"random needs an integer or a non-empty sequence, got {value!r}")


FILTERS = {
    "random": f_random, "bool": f_bool, "to_json": f_to_json, "to_nice_json": f_to_nice_json, "to_yaml": f_to_yaml,
    "to_nice_yaml": f_to_nice_yaml, "from_json": f_from_json, "from_yaml": f_from_yaml,
    "regex_replace": f_regex_replace, "regex_search": f_regex_search, "regex_findall": f_regex_findall,
    "combine": f_combine, "dict2items": f_dict2items, "items2dict": f_items2dict, "b64encode": f_b64encode,
    "b64decode": f_b64decode, "hash": f_hash, "checksum": f_checksum, "password_hash": f_password_hash,
    "quote": f_quote, "mandatory": f_mandatory, "ternary": f_ternary, "unique": f_unique, "union": f_union,
    "intersect": f_intersect, "difference": f_difference, "symmetric_difference": f_symmetric_difference,
    "flatten": f_flatten, "zip": f_zip, "zip_longest": f_zip_longest, "product": f_product,
    "basename": f_basename, "dirname": f_dirname, "splitext": f_splitext, "expanduser": f_expanduser,
    "realpath": f_realpath, "relpath": f_relpath, "strftime": f_strftime, "to_datetime": f_to_datetime,
    "human_readable": f_human_readable, "type_debug": f_type_debug, "split": f_split, "version": f_version,
    "version_compare": f_version, "dict": f_dict, "string": f_string, "subelements": subelements,
    "md5": lambda value: f_hash(value, "md5"), "sha1": f_checksum,
}
FILTERS.update(FILTERS_MORE)
