"""Lookups (`lookup()`, `query()`, `q()`, and the `with_<name>` loops built on them)."""

from __future__ import annotations

import copy
import glob
import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hostprep.errors import InputError
from hostprep.templating.lookups_more import MORE_LOOKUPS, playbook_dir
from hostprep.templating.sequences import f_flatten
from hostprep.values import to_bool

if TYPE_CHECKING:
    from hostprep.templating.templar import Templar


def _find(templar: Templar, name: str, subdir: str | None = None) -> Path | None:
    candidates = [Path(name)] if os.path.isabs(name) else []
    for base in templar.searchpath:
        if subdir:
            candidates.append(Path(base) / subdir / name)
        candidates.append(Path(base) / name)
    candidates.append(Path.cwd() / name)
    for c in candidates:
        if c.exists():
            return c
    return None


def _flatten_terms(terms: tuple) -> list:
    out: list = []
    for t in terms:
        if isinstance(t, list):
            out.extend(t)
        else:
            out.append(t)
    return out


def _term_list(terms: tuple) -> list:
    """with_X: [a, b] comes as one list term; lookup('X', a, b) as several."""
    return list(terms[0]) if len(terms) == 1 and isinstance(terms[0], list) else list(terms)


def subelements(value: Any, key: str, skip_missing: bool = False, *, pop: bool = False) -> list[list[Any]]:
    """Ansible's subelements (lookup and filter): [item, subitem] for every subitem of item[key].

    `key` may be dotted (a.b); a dict is taken as the list of its values; items (or a whole registered
    result) that were skipped are left out; a missing key is an error unless skip_missing. The lookup
    (`pop`) gives the item without the list it iterates, as Ansible's lookup does; the filter keeps it.
    """
    if isinstance(value, Mapping):
        if value.get("skipped"):
            return []
        items = list(value.values())
    elif isinstance(value, list):
        items = value
    else:
        raise InputError(f"subelements: the first term must be a list or a dict, got {type(value).__name__}")
    if not isinstance(key, str) or not key:
        raise InputError("subelements: the second term must be a key name")
    out: list[list[Any]] = []
    for item in items:
        if not isinstance(item, Mapping):
            raise InputError(f"subelements: the list's items must be dictionaries, got {item!r}")
        if item.get("skipped"):
            continue
        sub: Any = item
        missing = False
        for part in key.split("."):
            if not isinstance(sub, Mapping) or part not in sub:
                missing = True
                break
            sub = sub[part]
        if missing:
            if skip_missing:
                continue
            raise InputError(f"subelements: could not find {key!r} key in iterated item {dict(item)!r}")
        if not isinstance(sub, list):
            raise InputError(f"subelements: the key {key!r} should point to a list, got {sub!r}")
        if pop:
            item = copy.deepcopy(dict(item))
            parent = item
            *path, last = key.split(".")
            for part in path:
                parent = parent[part]
            parent.pop(last)
        out += [[item, each] for each in sub]
    return out


_SHORTCUT = re.compile(r"^(?:(-?\d+|0x[0-9a-f]+)-)?(-?\d+|0x[0-9a-f]+)(?:/(-?\d+|0x[0-9a-f]+))?(?::(.+))?$",
                       re.IGNORECASE)


def sequence(term: str) -> list[str]:
    """Ansible's sequence lookup: `start=1 end=10 stride=2 format=h%02d`, `count=5`, or `[start-]end[/stride][:fmt]`."""
    params: dict[str, str] = {}
    text = term.strip()
    match = _SHORTCUT.match(text)
    if match and "=" not in text:
        start, end, stride, fmt = match.groups()
        params = {"start": start or "1", "end": end, "stride": stride or "1", "format": fmt or "%d"}
    else:
        for token in text.split():
            if "=" not in token:
                raise InputError(f"sequence: can't parse {token!r} of {term!r} (expected key=value)")
            k, v = token.split("=", 1)
            if k not in ("start", "end", "count", "stride", "format"):
                raise InputError(f"sequence: unknown parameter {k!r} in {term!r}")
            params[k] = v
    try:
        start = int(params.get("start", "1"), 0)
        stride = int(params.get("stride", "1"), 0)
        if "count" in params and "end" in params:
            raise InputError(f"sequence: can't use both count and end ({term!r})")
        if "count" in params:
            count = int(params["count"], 0)
            end = start + (count - 1) * stride if count else start - stride
        elif "end" in params:
            end = int(params["end"], 0)
        else:
            raise InputError(f"sequence: must specify count or end ({term!r})")
    except ValueError:
        raise InputError(f"sequence: can't parse the numbers of {term!r}") from None
    fmt = params.get("format", "%d")
    if stride == 0:
        return []
    if (stride > 0 and end < start) or (stride < 0 and end > start):
        raise InputError(f"sequence: to count {'backwards' if stride > 0 else 'forwards'} use a "
                         f"{'negative' if stride > 0 else 'positive'} stride ({term!r})")
    stop = end + (1 if stride > 0 else -1)
    try:
        return [fmt % i for i in range(start, stop, stride)]
    except (TypeError, ValueError):
        raise InputError(f"sequence: bad format string {fmt!r}") from None


# the keyword options each built-in lookup here honours (the lookups_more ones check their own)
_OPTIONS: dict[str, set[str]] = {
    "env": {"default"}, "file": {"rstrip", "lstrip"}, "template": {"template_vars"},
    "first_found": {"files", "paths", "skip"},
}


def run_lookup(templar: Templar, name: str, *terms: Any, **kwargs: Any) -> list[Any]:
    """Run lookup `name` and return its list of results (what `query()` returns)."""
    if name.startswith("ansible.builtin."):
        name = name[len("ansible.builtin."):]
    elif name.startswith("ansible.legacy."):
        name = name[len("ansible.legacy."):]
    if name in MORE_LOOKUPS:
        return MORE_LOOKUPS[name](templar, list(_flatten_terms(terms)), **kwargs)
    unknown = set(kwargs) - _OPTIONS.get(name, set())
    if unknown:  # an option hostprep would not honour is refused, never ignored
        raise InputError(f"lookup('{name}'): option(s) {', '.join(sorted(unknown))} not supported by hostprep"
                         + (f" (supported: {', '.join(sorted(_OPTIONS[name]))})" if _OPTIONS.get(name) else ""))
    if name in ("items",):
        return _flatten_terms(terms)
    if name == "list":
        return list(terms)
    if name == "flattened":
        return f_flatten(list(terms))
    if name == "dict":
        mapping = terms[0] if terms else {}
        if not isinstance(mapping, Mapping):
            raise InputError("with_dict / lookup('dict') needs a dictionary")
        return [{"key": k, "value": v} for k, v in mapping.items()]
    if name == "indexed_items":
        return [[i, v] for i, v in enumerate(_flatten_terms(terms))]
    if name == "together":
        import itertools

        return [list(t) for t in itertools.zip_longest(*terms)]
    if name == "env":
        default = kwargs.get("default", "")
        return [os.environ.get(str(t), default) for t in _flatten_terms(terms)]
    if name == "file":
        out = []
        for t in _flatten_terms(terms):
            path = _find(templar, str(t), "files")
            if path is None:
                raise InputError(f"lookup('file'): could not find {t!r}")
            from hostprep.vault import files as vault_files

            text = vault_files.read_text(path)  # a vaulted file is read decrypted, as Ansible's file lookup
            if kwargs.get("rstrip", True):
                text = text.rstrip()
            out.append(text.lstrip() if kwargs.get("lstrip", False) else text)
        return out
    if name == "template":
        out = []
        for t in _flatten_terms(terms):
            path = _find(templar, str(t), "templates")
            if path is None:
                raise InputError(f"lookup('template'): could not find {t!r}")
            out.append(templar.render_file(path, extra=kwargs.get("template_vars") or {}))
        return out
    if name == "pipe":
        out = []
        for t in _flatten_terms(terms):
            proc = subprocess.run(str(t), shell=True, capture_output=True, text=True, check=False,
                                  cwd=playbook_dir(templar))
            if proc.returncode != 0:
                raise InputError(f"lookup('pipe'): {t!r} exited {proc.returncode}: {proc.stderr.strip()}")
            out.append(proc.stdout.rstrip("\n"))
        return out
    if name == "fileglob":
        out = []
        for t in _flatten_terms(terms):
            out += _fileglob(templar, str(t))
        return out
    if name == "first_found":
        files = []
        skip = kwargs.get("skip")
        # lookup('first_found', files=[...], paths=[...]) or terms that are file names / {files, paths, skip} dicts
        option_terms = [{"files": kwargs["files"], "paths": kwargs.get("paths") or [""]}] if kwargs.get("files") else []
        for t in [*_flatten_terms(terms), *option_terms]:
            if isinstance(t, Mapping):
                skip = t.get("skip", skip)  # a term's options, as Ansible's set_options (with_first_found: - skip)
                names = t.get("files", [])
                dirs = t.get("paths", [""]) or [""]
                for f in [names] if isinstance(names, str) else names:
                    for p in [dirs] if isinstance(dirs, str) else dirs:
                        files.append(os.path.join(p, f))
            else:
                files.append(str(t))
        for f in files:
            for sub in ("vars", "files", "templates", None):
                path = _find(templar, f, sub)
                if path is not None:
                    return [str(path)]
        if skip is not None and to_bool(skip, "skip"):
            return []
        raise InputError(f"first_found: none of {files} was found")
    if name in ("nested", "cartesian"):
        import itertools

        lists = _term_list(terms)
        for t in lists:
            if not isinstance(t, list):
                raise InputError(f"with_{name} needs a list of lists, got {type(t).__name__} in it")
        return [list(p) for p in itertools.product(*lists)] if lists else []
    if name == "subelements":
        args = _term_list(terms)
        if len(args) not in (2, 3):
            raise InputError("subelements needs a list (or dict), a subelement key and optionally {skip_missing: ..}")
        flags = args[2] if len(args) == 3 else {}
        if not isinstance(flags, Mapping) or set(flags) - {"skip_missing"}:
            raise InputError("subelements: the third term may only be {skip_missing: true|false}")
        return subelements(args[0], args[1], bool(flags.get("skip_missing", False)), pop=True)
    if name == "sequence":
        out = []
        for t in _flatten_terms(terms):
            out += sequence(str(t))
        return out
    if name == "random_choice":
        import random

        choices = _flatten_terms(terms)
        return [random.choice(choices)] if choices else []  # noqa: S311 - not for security, as Ansible's
    raise InputError(f"lookup plugin {name!r} is not supported by hostprep")


def _fileglob(templar: Templar, pattern: str) -> list[str]:
    """Ansible's fileglob lookup: an absolute pattern as is; a relative one in the first directory of the
    search path (the role's files/, the role, the playbook's files/, the playbook's directory) that holds
    the pattern's directory."""
    if os.path.isabs(pattern):
        return [p for p in sorted(glob.glob(pattern)) if os.path.isfile(p)]
    sub = os.path.dirname(pattern)
    for base in templar.searchpath:
        for root in (Path(base) / "files", Path(base)):
            if (root / sub).is_dir():
                found = [p for p in sorted(glob.glob(str(root / pattern))) if os.path.isfile(p)]
                if found:
                    return found
    return []


def _guarded(templar: Templar, name: str, terms: tuple, kwargs: dict[str, Any]) -> list[Any] | None:
    """run_lookup with Ansible's `errors=` option: strict (the default) raises; ignore and warn give no
    result (None from lookup(), [] from query()); warn also says why on stderr, as Ansible warns."""
    errors = kwargs.pop("errors", "strict")
    if errors not in ("strict", "warn", "ignore"):
        raise InputError(f"lookup('{name}'): errors must be strict, warn or ignore, got {errors!r}")
    try:
        return run_lookup(templar, name, *terms, **kwargs)
    except InputError as exc:
        if errors == "strict":
            raise
        if errors == "warn":
            import sys

            sys.stderr.write(f"[WARNING]: An error occurred while running the lookup plugin '{name}': "
                             f"{exc.message}\n")
        return None


def install_lookups(templar: Templar) -> None:
    def lookup(name: str, *terms: Any, wantlist: bool = False, **kwargs: Any) -> Any:
        result = _guarded(templar, name, terms, kwargs)
        if result is None:
            return [] if wantlist else None
        if wantlist:
            return result
        # Ansible: one result is unwrapped, several strings are joined with commas, anything else as is
        if len(result) == 1:
            return result[0]
        if result and all(isinstance(r, str) for r in result):
            return ",".join(result)
        return result

    def query(name: str, *terms: Any, **kwargs: Any) -> list:
        return _guarded(templar, name, terms, kwargs) or []

    templar.functions.update(lookup=lookup, query=query, q=query)
