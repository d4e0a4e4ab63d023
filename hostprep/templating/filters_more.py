"""The rest of ansible.builtin's filters: paths, sets, math, sizes, URLs, regex escaping, UUIDs, comments.

Written from ansible-core's documented behaviour and checked value by value against ansible-playbook
(tests/unit/templating/test_templating_oracle.py); where Ansible's answer is surprising (set order of
`union`, case-insensitive `unique`, `1.0.0` != `1.0`) the surprise is kept on purpose, because roles
written against Ansible depend on it.
"""

from __future__ import annotations

import glob
import itertools
import math
import ntpath
import os
import random
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import yaml
from jinja2 import pass_environment
from jinja2.exceptions import FilterArgumentError
from jinja2.filters import do_unique

ANSIBLE_UUID_NAMESPACE = uuid.UUID("361E6D51-FAEC-444A-9079-341386DA8E2E")


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping))


# -- sets: Ansible uses Python sets when the items are hashable (so the order is the set's) --------------
@pass_environment
def f_unique(env: Any, value: Iterable, case_sensitive: bool | None = None, attribute: str | None = None) -> list:
    """Jinja2's unique, which Ansible calls with case_sensitive=False unless told otherwise; unhashable
    items fall back to equality (only without case_sensitive=False or attribute, as in Ansible)."""
    try:
        return list(do_unique(env, value, case_sensitive=bool(case_sensitive), attribute=attribute))
    except TypeError:
        if case_sensitive is False or attribute:
            raise
        return _unique_keep_order(value)


def _unique_keep_order(seq: Iterable) -> list:
    out: list = []
    for x in seq:
        if x not in out:
            out.append(x)
    return out


def f_union(a: Iterable, b: Iterable) -> list:
    try:
        return list(set(a) | set(b))
    except TypeError:
        return _unique_keep_order(list(a) + list(b))


def f_intersect(a: Iterable, b: Iterable) -> list:
    try:
        return list(set(a) & set(b))
    except TypeError:
        bl = list(b)
        return _unique_keep_order(x for x in a if x in bl)


def f_difference(a: Iterable, b: Iterable) -> list:
    try:
        return list(set(a) - set(b))
    except TypeError:
        bl = list(b)
        return _unique_keep_order(x for x in a if x not in bl)


def f_symmetric_difference(a: Iterable, b: Iterable) -> list:
    try:
        return list(set(a) ^ set(b))
    except TypeError:
        both = f_intersect(a, b)
        return [x for x in f_union(a, b) if x not in both]


# -- math --------------------------------------------------------------------------------------------------
def f_log(x: Any, base: float = math.e) -> float:
    return math.log10(x) if base == 10 else math.log(x, base)


def f_pow(x: Any, y: Any) -> float:
    return math.pow(x, y)


def f_root(x: Any, base: float = 2) -> float:
    return math.sqrt(x) if base == 2 else math.pow(x, 1.0 / float(base))


_SIZES = {"Y": 1 << 80, "Z": 1 << 70, "E": 1 << 60, "P": 1 << 50, "T": 1 << 40, "G": 1 << 30, "M": 1 << 20,
          "K": 1 << 10, "B": 1}
_UNIT_WORDS = {"B": ("byte", "bit"), "K": ("kilobyte", "kilobit"), "M": ("megabyte", "megabit"),
               "G": ("gigabyte", "gigabit"), "T": ("terabyte", "terabit"), "P": ("petabyte", "petabit"),
               "E": ("exabyte", "exabit"), "Z": ("zetabyte", "zetabit"), "Y": ("yottabyte", "yottabit")}


def f_human_readable(size: Any, isbits: bool = False, unit: str | None = None) -> str:
    """'1.00 KB', '1023.00 Bytes', '2.00 Kb' — Ansible's spelling (binary multiples, two decimals)."""
    try:
        size = float(size)
    except (TypeError, ValueError):
        raise FilterArgumentError(f"human_readable() failed on bad input {size!r}") from None
    base = "bits" if isbits else "Bytes"
    suffix, limit = "B", 1
    for suffix, limit in sorted(_SIZES.items(), key=lambda kv: -kv[1]):
        if (unit is None and size >= limit) or (unit is not None and unit.upper() == suffix[0]):
            break
    text = suffix + base[0] if limit != 1 else base
    return "%.2f %s" % (size / limit, text)  # noqa: UP031 - the exact format Ansible prints


def f_human_to_bytes(size: Any, default_unit: str | None = None, isbits: bool = False) -> int:
    """'2 MB' -> 2097152; a unit longer than one letter must be KB (or Kb with isbits), as in Ansible."""
    m = re.search(r"^([0-9]*\.?[0-9]+)(?:\s*([A-Za-z]+))?\s*$", str(size))
    if m is None:
        raise FilterArgumentError(f"human_to_bytes() can't interpret {size!r}")
    number = float(m.group(1))
    unit = m.group(2) or default_unit
    if unit is None:
        return int(round(number))
    key = unit[0].upper()
    if key not in _SIZES:
        raise FilterArgumentError(f"human_to_bytes() failed to convert {size!r}: the suffix must be one of "
                                  f"{', '.join(_SIZES)}")
    if len(unit) > 1:
        word = _UNIT_WORDS[key][1 if isbits else 0]
        short = key + ("b" if isbits else "B")
        if unit.lower() != word and unit != short:
            raise FilterArgumentError(f"human_to_bytes() failed to convert {size!r}: expect {short} or {key}")
    return int(round(number * _SIZES[key]))


def f_rekey_on_member(data: Any, key: str, duplicates: str = "error") -> dict:
    if duplicates not in ("error", "overwrite"):
        raise FilterArgumentError(f"rekey_on_member: unknown duplicates value {duplicates!r}")
    if isinstance(data, Mapping):
        items = list(data.values())
    elif _is_sequence(data):
        items = list(data)
    else:
        raise FilterArgumentError("rekey_on_member: type is not a valid list, set, or dict")
    out: dict = {}
    for item in items:
        if not isinstance(item, Mapping):
            raise FilterArgumentError("rekey_on_member: list item is not a valid dict")
        if key not in item:
            raise FilterArgumentError(f"rekey_on_member: key {key!r} was not found in {dict(item)!r}")
        if out.get(item[key]) and duplicates == "error":
            raise FilterArgumentError(f"rekey_on_member: key {item[key]!r} is not unique, cannot convert to dict")
        out[item[key]] = item
    return out


# -- data --------------------------------------------------------------------------------------------------
@pass_environment
def f_extract(env: Any, item: Any, container: Any, morekeys: Any = None) -> Any:
    keys = [item] + (morekeys if isinstance(morekeys, list) else [] if morekeys is None else [morekeys])
    value = container
    for key in keys:
        value = env.getitem(value, key)
    return value


def f_from_yaml_all(value: Any) -> Any:
    return list(yaml.safe_load_all(value)) if isinstance(value, str) else value


def f_shuffle(value: Iterable, seed: Any = None) -> list:
    items = list(value)
    rng = random.Random(seed) if seed else random.SystemRandom()
    rng.shuffle(items)
    return items


def f_to_uuid(value: Any, namespace: Any = ANSIBLE_UUID_NAMESPACE) -> str:
    try:
        ns = namespace if isinstance(namespace, uuid.UUID) else uuid.UUID(str(namespace))
    except ValueError as exc:
        raise FilterArgumentError(f"to_uuid: invalid namespace {namespace!r}: {exc}") from None
    return str(uuid.uuid5(ns, str(value)))


def f_regex_escape(value: Any, re_type: str = "python") -> str:
    if re_type == "python":
        return re.escape(str(value))
    if re_type == "posix_basic":
        return re.sub(r"([].[^$*\\])", r"\\\1", str(value))
    raise FilterArgumentError(f"regex_escape: regex type {re_type!r} is not supported (python, posix_basic)")


_COMMENT_STYLES = {
    "plain": {"decoration": "# "}, "erlang": {"decoration": "% "}, "c": {"decoration": "// "},
    "cblock": {"beginning": "/*", "decoration": " * ", "end": " */"},
    "xml": {"beginning": "<!--", "decoration": " - ", "end": "-->"},
}


def f_comment(text: Any, style: str = "plain", **kw: Any) -> str:
    """Ansible's comment filter: the text as a comment block in one of its styles, every part overridable."""
    if style not in _COMMENT_STYLES:
        raise FilterArgumentError(f"comment: invalid style {style!r} (styles: {', '.join(_COMMENT_STYLES)})")
    style_params = _COMMENT_STYLES[style]
    edge = kw.get("decoration", style_params["decoration"]).rstrip()
    p: dict[str, Any] = {"newline": "\n", "beginning": "", "prefix": edge, "prefix_count": 1, "decoration": "",
                         "postfix": edge, "postfix_count": 1, "end": ""}
    p.update(style_params)
    p.update(kw)
    nl, deco = p["newline"], p["decoration"]
    begin = p["beginning"] + nl if p["beginning"] else ""
    prefix = ""
    if p["prefix"]:
        prefix = (nl if p["prefix"] == nl else p["prefix"] + nl) * int(p["prefix_count"])
    body = (deco + str(text).replace(nl, nl + deco)).replace(deco + nl, deco.rstrip() + nl)
    postfix = nl.join([""] + [p["postfix"]] * int(p["postfix_count"]))
    end = nl + p["end"] if p["end"] else ""
    return begin + prefix + body + postfix + end


# -- paths -------------------------------------------------------------------------------------------------
def f_path_join(paths: Any) -> str:
    if isinstance(paths, str):
        return os.path.join(paths)
    if _is_sequence(paths):
        return os.path.join(*[str(p) for p in paths])
    raise FilterArgumentError(f"path_join expects a string or a sequence, got {type(paths).__name__}")


def f_commonpath(paths: Any) -> str:
    if not _is_sequence(paths):
        raise FilterArgumentError(f"commonpath expects a sequence, got {type(paths).__name__}")
    return os.path.commonpath(list(paths))


def f_fileglob(pattern: Any) -> list:
    """Files (not directories) matching the pattern, as the controller sees them (Ansible's filter)."""
    return [p for p in glob.glob(str(pattern)) if os.path.isfile(p)]


def _str_path(fn: Any) -> Any:
    def wrapped(value: Any, *args: Any) -> Any:
        out = fn(str(value), *args)
        return list(out) if isinstance(out, tuple) else out

    wrapped.__name__ = getattr(fn, "__name__", "path")
    return wrapped


# -- URLs --------------------------------------------------------------------------------------------------
def f_urldecode(value: Any) -> str:
    return unquote_plus(str(value))


_URL_PARTS = ("fragment", "hostname", "netloc", "password", "path", "port", "query", "scheme", "username")


def f_urlsplit(value: Any, query: str = "") -> Any:
    parts = urlsplit(str(value))
    result = {name: getattr(parts, name) for name in _URL_PARTS}
    if not query:
        return result
    if query not in result:
        raise FilterArgumentError(f"urlsplit: unknown URL component {query!r}")
    return result[query]


# -- vault -------------------------------------------------------------------------------------------------
def f_vault(value: Any, secret: Any, vault_id: str = "filter_default", salt: Any = None,
            wrap_object: bool = False) -> str:
    """The value encrypted as vault text with `secret`, labelled `vault_id` (Ansible's vault filter)."""
    from hostprep.vault.cipher import encrypt

    if not isinstance(value, str):
        raise FilterArgumentError(f"vault: can only encrypt text, got {type(value).__name__}")
    return encrypt(value.encode("utf-8"), str(secret).encode("utf-8"), vault_id,
                   salt=str(salt).encode("utf-8") if salt else None)


def f_unvault(value: Any, secret: Any, vault_id: str = "filter_default") -> str:
    """Vault text decrypted with `secret`; text that is not vaulted is returned as it is (as Ansible)."""
    from hostprep.vault.cipher import VaultDecryptError, decrypt
    from hostprep.vault.envelope import VaultFormatError, is_vaulted

    if not isinstance(value, str) or not is_vaulted(value):
        return value
    try:
        return decrypt(value, str(secret).encode("utf-8")).decode("utf-8")
    except (VaultDecryptError, VaultFormatError) as exc:
        raise FilterArgumentError(f"unvault: cannot decrypt: {exc}") from None


FILTERS_MORE = {
    "unique": f_unique, "union": f_union, "intersect": f_intersect, "difference": f_difference,
    "symmetric_difference": f_symmetric_difference, "log": f_log, "pow": f_pow, "root": f_root,
    "human_readable": f_human_readable, "human_to_bytes": f_human_to_bytes, "rekey_on_member": f_rekey_on_member,
    "permutations": itertools.permutations, "combinations": itertools.combinations,
    "extract": f_extract, "from_yaml_all": f_from_yaml_all, "shuffle": f_shuffle, "to_uuid": f_to_uuid,
    "regex_escape": f_regex_escape, "comment": f_comment, "path_join": f_path_join, "commonpath": f_commonpath,
    "fileglob": f_fileglob, "normpath": _str_path(os.path.normpath), "expandvars": _str_path(os.path.expandvars),
    "win_basename": _str_path(ntpath.basename), "win_dirname": _str_path(ntpath.dirname),
    "win_splitdrive": _str_path(ntpath.splitdrive), "urldecode": f_urldecode, "urlsplit": f_urlsplit,
    "vault": f_vault, "unvault": f_unvault,
}
