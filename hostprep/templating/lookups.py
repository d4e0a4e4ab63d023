"""Lookups (`lookup()`, `query()`, `q()`, and the `with_<name>` loops built on them)."""

from __future__ import annotations

import glob
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hostprep.errors import InputError

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


def run_lookup(templar: Templar, name: str, *terms: Any, **kwargs: Any) -> list[Any]:
    """Run lookup `name` and return its list of results (what `query()` returns)."""
    if name in ("items",):
        return _flatten_terms(terms)
    if name == "list":
        return list(terms[0]) if len(terms) == 1 and isinstance(terms[0], list) else list(terms)
    if name == "flattened":
        from hostprep.templating.filters import f_flatten

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
            text = path.read_text()
            out.append(text.rstrip("\n") if kwargs.get("rstrip", True) else text)
        return out
    if name == "template":
        out = []
        for t in _flatten_terms(terms):
            path = _find(templar, str(t), "templates")
            if path is None:
                raise InputError(f"lookup('template'): could not find {t!r}")
            out.append(templar.render_file(path))
        return out
    if name == "pipe":
        out = []
        for t in _flatten_terms(terms):
            proc = subprocess.run(str(t), shell=True, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise InputError(f"lookup('pipe'): {t!r} exited {proc.returncode}: {proc.stderr.strip()}")
            out.append(proc.stdout.rstrip("\n"))
        return out
    if name == "fileglob":
        out = []
        for t in _flatten_terms(terms):
            pattern = str(t) if os.path.isabs(str(t)) else str(Path(templar.searchpath[0] if templar.searchpath
                                                                   else ".") / "files" / str(t))
            out += sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
        return out
    if name == "first_found":
        files = []
        for t in _flatten_terms(terms):
            if isinstance(t, Mapping):
                for f in t.get("files", []):
                    for p in t.get("paths", [""]) or [""]:
                        files.append(os.path.join(p, f))
            else:
                files.append(str(t))
        for f in files:
            for sub in ("vars", "files", "templates", None):
                path = _find(templar, f, sub)
                if path is not None:
                    return [str(path)]
        if kwargs.get("skip"):
            return []
        raise InputError(f"first_found: none of {files} was found")
    if name == "sequence":
        raise InputError("lookup 'sequence' is not supported by hostprep; use range()")
    raise InputError(f"lookup plugin {name!r} is not supported by hostprep")


def install_lookups(templar: Templar) -> None:
    def lookup(name: str, *terms: Any, wantlist: bool = False, **kwargs: Any) -> Any:
        result = run_lookup(templar, name, *terms, **kwargs)
        if wantlist:
            return result
        if name in ("env", "file", "template", "pipe", "first_found") and len(result) == 1:
            return result[0]
        return ",".join(str(r) for r in result) if name in ("env", "file", "template", "pipe") else result

    def query(name: str, *terms: Any, **kwargs: Any) -> list:
        return run_lookup(templar, name, *terms, **kwargs)

    templar.functions.update(lookup=lookup, query=query, q=query)
