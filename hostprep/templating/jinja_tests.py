"""Jinja2 tests Ansible roles use: results, versions, regexes, sets, paths, truthiness."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from hostprep.templating.versions import compare_versions


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
    return bool(_result(value).get("finished", True))


def t_match(value: Any, pattern: str, ignorecase: bool = False, multiline: bool = False) -> bool:
    flags = (re.I if ignorecase else 0) | (re.M if multiline else 0)
    return re.match(pattern, str(value), flags) is not None


def t_search(value: Any, pattern: str, ignorecase: bool = False, multiline: bool = False) -> bool:
    flags = (re.I if ignorecase else 0) | (re.M if multiline else 0)
    return re.search(pattern, str(value), flags) is not None


def t_regex(value: Any, pattern: str, ignorecase: bool = False, multiline: bool = False,
            match_type: str = "search") -> bool:
    return (t_match if match_type == "match" else t_search)(value, pattern, ignorecase, multiline)


def t_version(value: Any, version: Any, operator: str = "eq", strict: bool = False) -> bool:
    return compare_versions(str(value), str(version), operator)


def t_subset(a: Any, b: Any) -> bool:
    return all(x in b for x in a)


def t_superset(a: Any, b: Any) -> bool:
    return all(x in a for x in b)


def t_contains(seq: Any, item: Any) -> bool:
    return item in seq


def t_truthy(value: Any, convert_bool: bool = False) -> bool:
    return bool(value)


def t_falsy(value: Any, convert_bool: bool = False) -> bool:
    return not bool(value)


TESTS = {
    "failed": t_failed, "failure": t_failed, "succeeded": t_succeeded, "success": t_succeeded,
    "successful": t_succeeded, "changed": t_changed, "change": t_changed, "skipped": t_skipped,
    "skip": t_skipped, "finished": t_finished, "match": t_match, "search": t_search, "regex": t_regex,
    "version": t_version, "version_compare": t_version, "subset": t_subset, "superset": t_superset,
    "contains": t_contains, "truthy": t_truthy, "falsy": t_falsy,
    "file": os.path.isfile, "directory": os.path.isdir, "exists": os.path.exists, "link": os.path.islink,
    "abs": os.path.isabs, "any": any, "all": all,
}
