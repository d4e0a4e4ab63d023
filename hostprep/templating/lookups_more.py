"""ansible.builtin lookups that read variables, files and commands: vars, varnames, lines, csvfile, ini, password.

Each takes the flattened terms and the keyword options and returns the list `query()` returns. Options
may be given inline (`lookup('ini', 'port section=db file=app.ini')`) or as keywords, as in Ansible.
Files are looked up as Ansible does: the role's / playbook's `files/` directory first, then beside it.
"""

from __future__ import annotations

import configparser
import csv
import io
import os
import random
import re
import shlex
import string
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hostprep.errors import InputError

if TYPE_CHECKING:
    from hostprep.templating.templar import Templar

_MISSING = object()


def _split_term(term: Any, defaults: dict[str, Any], kwargs: dict[str, Any], lookup: str) -> tuple[str, dict]:
    """'key a=1 b=2' -> ('key', options); keyword options apply first, inline ones override them."""
    params = dict(defaults)
    for k, v in kwargs.items():
        if k not in defaults:
            raise InputError(f"lookup('{lookup}'): unknown option {k!r} (options: {', '.join(defaults)})")
        params[k] = v
    try:
        tokens = shlex.split(str(term))
    except ValueError as exc:
        raise InputError(f"lookup('{lookup}'): cannot parse {term!r}: {exc}") from None
    key_parts = []
    for tok in tokens:
        k, sep, v = tok.partition("=")
        if sep and k in defaults:
            params[k] = v
        elif sep and not key_parts:
            raise InputError(f"lookup('{lookup}'): unknown option {k!r} in {term!r} (options: {', '.join(defaults)})")
        else:
            key_parts.append(tok)
    return " ".join(key_parts), params


def playbook_dir(templar: Templar) -> str | None:
    """Where Ansible runs `pipe` and `lines` commands and keeps relative password files: the playbook's directory."""
    try:
        pdir = templar.variables.get("playbook_dir")
    except Exception:  # noqa: BLE001 - a lazily rendered value that fails is no directory
        pdir = None
    if isinstance(pdir, str) and os.path.isdir(pdir):
        return pdir
    return templar.searchpath[-1] if templar.searchpath else None


def _find_file(templar: Templar, name: str, lookup: str) -> Path:
    if os.path.isabs(name):
        if os.path.exists(name):
            return Path(name)
    else:
        for base in (*templar.searchpath, os.getcwd()):
            for cand in (Path(base) / "files" / name, Path(base) / name):
                if cand.exists():
                    return cand
    raise InputError(f"lookup('{lookup}'): could not find file {name!r} (searched files/ and the playbook's "
                     "directory)")


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "yes", "true", "on")


def lookup_vars(templar: Templar, terms: list, default: Any = _MISSING, **kwargs: Any) -> list:
    if kwargs:
        raise InputError(f"lookup('vars'): unknown options {sorted(kwargs)}")
    out = []
    for term in terms:
        if not isinstance(term, str):
            raise InputError(f"lookup('vars'): invalid setting identifier {term!r}: it is a "
                             f"{type(term).__name__}, not a string")
        if term in templar.lazy:
            out.append(templar.lazy[term])
        elif default is not _MISSING:
            out.append(default)
        else:
            raise InputError(f"No variable named {term!r} was found (lookup('vars'))")
    return out


def lookup_varnames(templar: Templar, terms: list, **kwargs: Any) -> list:
    if kwargs:
        raise InputError(f"lookup('varnames'): unknown options {sorted(kwargs)}")
    names = list(templar.variables)
    out: list[str] = []
    for term in terms:
        try:
            pattern = re.compile(str(term))
        except re.error as exc:
            raise InputError(f"lookup('varnames'): invalid regex {term!r}: {exc}") from None
        out += [n for n in names if pattern.search(n)]
    return out


def lookup_lines(templar: Templar, terms: list, **kwargs: Any) -> list:
    out: list[str] = []
    for term in terms:
        proc = subprocess.run(str(term), shell=True, capture_output=True, text=True, check=False,
                              cwd=playbook_dir(templar))
        if proc.returncode != 0:
            raise InputError(f"lookup('lines'): {term!r} exited {proc.returncode}: {proc.stderr.strip()}")
        out += proc.stdout.splitlines()
    return out


_CSV_DEFAULTS = {"file": "ansible.csv", "col": "1", "keycol": "0", "delimiter": "TAB", "default": None,
                 "encoding": "utf-8"}


def lookup_csvfile(templar: Templar, terms: list, **kwargs: Any) -> list:
    out = []
    for term in terms:
        key, p = _split_term(term, _CSV_DEFAULTS, kwargs, "csvfile")
        delimiter = "\t" if p["delimiter"] in ("TAB", "\\t") else str(p["delimiter"])
        path = _find_file(templar, str(p["file"]), "csvfile")
        value: Any = p["default"]
        with open(path, encoding=str(p["encoding"]), newline="") as fh:
            for row in csv.reader(fh, delimiter=delimiter):
                if row and len(row) > int(p["keycol"]) and row[int(p["keycol"])] == key:
                    try:
                        value = row[int(p["col"])]
                    except IndexError:
                        raise InputError(f"lookup('csvfile'): {path} has no column {p['col']} in the row of "
                                         f"{key!r}") from None
                    break
        out.append(value)
    return out


_INI_DEFAULTS = {"file": "ansible.ini", "section": "global", "re": False, "type": "ini", "default": "",
                 "encoding": "utf-8", "case_sensitive": False, "allow_no_value": False,
                 "allow_none": False, "interpolation": True}


def lookup_ini(templar: Templar, terms: list, **kwargs: Any) -> list:
    out: list = []
    for term in terms:
        key, p = _split_term(term, _INI_DEFAULTS, kwargs, "ini")
        path = _find_file(templar, str(p["file"]), "ini")
        text = path.read_text(encoding=str(p["encoding"]))
        section = str(p["section"])
        if p["type"] == "properties":
            text, section = "[java_properties]\n" + text, "java_properties"
        elif p["type"] != "ini":
            raise InputError(f"lookup('ini'): type must be ini or properties, got {p['type']!r}")
        parser = configparser.ConfigParser(allow_no_value=_bool(p["allow_no_value"]) or _bool(p["allow_none"]),
                                           interpolation=configparser.BasicInterpolation()
                                           if _bool(p["interpolation"]) else None)
        if _bool(p["case_sensitive"]):
            parser.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            parser.read_file(io.StringIO(text), source=str(path))
        except configparser.Error as exc:
            raise InputError(f"lookup('ini'): cannot parse {path}: {exc}") from None
        if _bool(p["re"]):
            if not parser.has_section(section):
                continue
            pattern = re.compile(key)
            out += [v for k, v in parser.items(section) if pattern.match(k)]
            continue
        try:
            out.append(parser.get(section, key))
        except configparser.NoSectionError:
            raise InputError(f"lookup('ini'): no section {section!r} in {path}") from None
        except configparser.NoOptionError:
            out.append(p["default"])
    return out


_PASSWORD_DEFAULTS = {"length": "20", "chars": "ascii_letters,digits,.,:-_", "seed": None, "encrypt": None,
                      "ident": None}


def _charset(spec: str) -> str:
    chars = []
    # a ",," in the spec is a literal comma, as in Ansible
    for part in spec.replace(",,", "\0").split(","):
        part = part.replace("\0", ",")
        chars.append(getattr(string, part, part))
    return "".join(chars)


def lookup_password(templar: Templar, terms: list, **kwargs: Any) -> list:
    """A random password kept in a file (made 0600 on first use, read back afterwards); /dev/null: never kept."""
    out = []
    for term in terms:
        relpath, p = _split_term(term, _PASSWORD_DEFAULTS, kwargs, "password")
        if p["encrypt"]:
            raise InputError("lookup('password'): encrypt= is not supported by hostprep (use the password_hash "
                             "filter on the plain password)")
        try:
            length = int(p["length"])
        except ValueError:
            raise InputError(f"lookup('password'): length must be a number, got {p['length']!r}") from None
        chars = _charset(str(p["chars"]))
        path = Path(relpath) if os.path.isabs(relpath) else Path(playbook_dir(templar) or ".") / relpath
        if relpath != "/dev/null" and path.is_file():
            content = path.read_text().rstrip("\n")
            out.append(content.split(" salt=", 1)[0])
            continue
        rng = random.Random(p["seed"]) if p["seed"] is not None else random.SystemRandom()
        password = "".join(rng.choice(chars) for _ in range(length))
        if relpath != "/dev/null":
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(password + "\n")
        out.append(password)
    return out


def _pattern_hosts(groups: dict, term: str) -> list[str]:
    everyone = list(dict.fromkeys([*groups.get("all", []), *groups.get("ungrouped", [])]))

    def one(word: str) -> list[str]:
        if word in ("all", "*"):
            return everyone
        if word in groups:
            return list(groups[word])
        if word.startswith("~"):
            rx = re.compile(word[1:])
            names = [h for h in everyone if rx.search(h)] + [h for g, hs in groups.items() if rx.search(g) for h in hs]
        else:
            import fnmatch

            names = [h for h in everyone if fnmatch.fnmatchcase(h, word)]
            names += [h for g, hs in groups.items() if g != "all" and fnmatch.fnmatchcase(g, word) for h in hs]
        return list(dict.fromkeys(names))

    result: list[str] = []
    for word in [w for w in re.split(r"[:,]", term) if w.strip()]:
        word = word.strip()
        if word.startswith("&"):
            keep = set(one(word[1:]))
            result = [h for h in result if h in keep]
        elif word.startswith("!"):
            drop = set(one(word[1:]))
            result = [h for h in result if h not in drop]
        else:
            result += [h for h in one(word) if h not in result]
    return result


def lookup_inventory_hostnames(templar: Templar, terms: list, **kwargs: Any) -> list:
    """Hosts a pattern names (groups, names, globs, ~regex, `:&`, `:!`), in inventory order."""
    groups = templar.lazy.get("groups")
    if not isinstance(groups, dict):
        raise InputError("lookup('inventory_hostnames') needs the inventory's groups (only inside a play)")
    out: list[str] = []
    for term in terms:
        out += [h for h in _pattern_hosts(groups, str(term)) if h not in out]
    return out


def lookup_unvault(templar: Templar, terms: list, **kwargs: Any) -> list:
    """A vaulted file's text, decrypted with the run's vault passwords (a plain file is read as it is)."""
    from hostprep.vault import files as vault_files

    if kwargs:
        raise InputError(f"lookup('unvault'): unknown options {sorted(kwargs)}")
    return [vault_files.read_text(_find_file(templar, str(t), "unvault")) for t in terms]


_URL_OPTIONS = {"validate_certs": True, "split_lines": True, "timeout": 10, "headers": None, "username": None,
                "password": None, "force_basic_auth": False, "use_proxy": True, "method": "GET"}


def lookup_url(templar: Templar, terms: list, **kwargs: Any) -> list:
    """The content of each URL (its lines with split_lines, the default), fetched by the controller."""
    import base64
    import ssl
    import urllib.error
    import urllib.request

    unknown = set(kwargs) - set(_URL_OPTIONS)
    if unknown:
        raise InputError(f"lookup('url'): options hostprep does not support: {sorted(unknown)} "
                         f"(supported: {', '.join(_URL_OPTIONS)})")
    p = {**_URL_OPTIONS, **kwargs}
    context = None if _bool(p["validate_certs"]) else ssl._create_unverified_context()  # noqa: S323 - asked for
    handlers: list[Any] = [urllib.request.HTTPSHandler(context=context)]
    if not _bool(p["use_proxy"]):
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    out: list[str] = []
    for term in terms:
        req = urllib.request.Request(str(term), method=str(p["method"]), headers=dict(p["headers"] or {}))
        if p["username"] is not None and (p["force_basic_auth"] or p["password"] is not None):
            token = base64.b64encode(f"{p['username']}:{p['password'] or ''}".encode()).decode("ascii")
            req.add_header("Authorization", f"Basic {token}")
        try:
            with opener.open(req, timeout=float(p["timeout"])) as resp:
                text = resp.read().decode("utf-8", errors="replace")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise InputError(f"lookup('url'): failed lookup url for {term}: {exc}") from None
        out += text.splitlines() if _bool(p["split_lines"]) else [text]
    return out


MORE_LOOKUPS = {
    "vars": lookup_vars, "varnames": lookup_varnames, "lines": lookup_lines, "csvfile": lookup_csvfile,
    "ini": lookup_ini, "password": lookup_password, "inventory_hostnames": lookup_inventory_hostnames,
    "unvault": lookup_unvault, "url": lookup_url,
}
