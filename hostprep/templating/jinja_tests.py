"""Jinja2 tests Ansible roles use: results, versions, regexes, sets, paths, truthiness."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from hostprep.templating.versions import compare_versions
from hostprep.values import to_bool


def _result(value: Any) -> Mapping:
    if not isinstance(value, Mapping):
        raise TypeError("this test needs a registered task result (a dictionary)")
    return value


def t_failed(value: Any) -> bool:
    return bool(_result(value).get("failed", False))


def t_succeeded(value: Any) -> bool:
    return not t_failed(value)


def t_changed(value: Any) -> bool:
    return bool(_result(value).get("changed", False))


def t_skipped(value: Any) -> bool:
    return bool(_result(value).get("skipped", False))


def t_finished(value: Any) -> bool:
    result = _result(value)
    return bool(result.get("finished")) if "finished" in result else True


def t_match(value: Any, pattern: str, ignorecase: bool = False, multiline: bool = False) -> bool:
    flags = (re.I if ignorecase else 0) | (re.M if multiline else 0)
    return re.match(pattern, str(value), flags) is not None


def t_search(value: Any, pattern: str, ignorecase: bool = False, multiline: bool = False) -> bool:
    flags = (re.I if ignorecase else 0) | (re.M if multiline else 0)
    return re.search(pattern, str(value), flags) is not None


def t_regex(value: Any, pattern: str, ignorecase: bool = False, multiline: bool = False,
            match_type: str = "search") -> bool:
    return (t_match if match_type == "match" else t_search)(value, pattern, ignorecase, multiline)


def t_version(value: Any, version: Any, operator: str = "eq", strict: bool | None = None,
              version_type: str | None = None) -> bool:
    return compare_versions(value, version, operator, strict=strict, version_type=version_type)


def t_subset(a: Any, b: Any) -> bool:
    try:
        return set(a) <= set(b)
    except TypeError:  # unhashable items: compare by equality
        return all(x in b for x in a)


def t_superset(a: Any, b: Any) -> bool:
    return t_subset(b, a)


def t_nan(value: Any) -> bool:
    try:
        return math.isnan(value)
    except TypeError:
        return False


def t_started(value: Any) -> bool:
    result = _result(value)
    return bool(result.get("started")) if "started" in result else True


def t_unreachable(value: Any) -> bool:
    return bool(_result(value).get("unreachable"))


def t_timedout(value: Any) -> bool:
    result = _result(value)
    timed = result.get("timedout")
    return bool(timed and isinstance(timed, dict) and timed.get("period"))


def t_uri(value: Any, schemes: list | None = None) -> bool:
    try:
        parts = urlparse(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return not schemes or parts.scheme in schemes


def t_url(value: Any, schemes: list | None = None) -> bool:
    return t_uri(value, schemes) and bool(urlparse(value).netloc or urlparse(value).scheme == "file")


def t_urn(value: Any) -> bool:
    return t_uri(value, ["urn"])


def t_contains(seq: Any, item: Any) -> bool:
    return item in seq


def t_truthy(value: Any, convert_bool: bool = False) -> bool:
    if convert_bool:
        try:
            value = to_bool(value)
        except Exception:  # noqa: BLE001 - not a boolean-like value: judged as it is, as Ansible does
            pass
    return bool(value)


def t_falsy(value: Any, convert_bool: bool = False) -> bool:
    return not t_truthy(value, convert_bool)


def t_vault_encrypted(value: Any) -> bool:
    """Ansible answers True only for an inline `!vault` value still encrypted; text (even vault text the vault
    filter made) is False. hostprep decrypts `!vault` values when their file is loaded, so this is False for
    every value here; the README lists it among the partly supported builtins."""
    return False


def t_vaulted_file(value: Any) -> bool:
    from hostprep.vault.envelope import is_vaulted

    try:
        with open(str(value), "rb") as fh:
            return is_vaulted(fh.read(64))
    except OSError as exc:
        raise ValueError(f"cannot test if the file {value!r} is a vault: {exc.strerror}") from None


TESTS = {
    "failed": t_failed, "failure": t_failed, "succeeded": t_succeeded, "success": t_succeeded,
    "successful": t_succeeded, "changed": t_changed, "change": t_changed, "skipped": t_skipped,
    "skip": t_skipped, "finished": t_finished, "match": t_match, "search": t_search, "regex": t_regex,
    "version": t_version, "version_compare": t_version, "subset": t_subset, "superset": t_superset,
    "contains": t_contains, "truthy": t_truthy, "falsy": t_falsy,
    "file": os.path.isfile, "directory": os.path.isdir, "exists": os.path.exists, "link": os.path.islink,
    "abs": os.path.isabs, "any": any, "all": all,
    "is_file": os.path.isfile, "is_dir": os.path.isdir, "is_link": os.path.islink, "is_abs": os.path.isabs,
    "link_exists": os.path.lexists, "mount": os.path.ismount, "is_mount": os.path.ismount,
    "same_file": os.path.samefile, "is_same_file": os.path.samefile, "issubset": t_subset,
    "issuperset": t_superset, "nan": t_nan, "isnan": t_nan, "started": t_started, "unreachable": t_unreachable,
    "reachable": lambda value: not t_unreachable(value), "timedout": t_timedout, "uri": t_uri, "url": t_url,
    "urn": t_urn, "vault_encrypted": t_vault_encrypted, "vaulted_file": t_vaulted_file,
}
