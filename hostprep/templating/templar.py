"""Jinja2 with Ansible's behaviour: lazy variables, native single expressions, strict undefined.

Variables are looked up lazily: a variable whose value is itself a template is rendered when
it is used, with the variables in force at that moment, and a variable defined through itself
is reported instead of recursing forever. A string that is exactly one `{{ expression }}`
gives the expression's native value (a list stays a list), as roles expect.
"""

from __future__ import annotations

import secrets
import threading
from collections import ChainMap
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import StrictUndefined
from jinja2.exceptions import TemplateSyntaxError, UndefinedError
from jinja2.lexer import TOKEN_STRING, TOKEN_VARIABLE_BEGIN, TOKEN_VARIABLE_END, Lexer

from hostprep.errors import InputError
from hostprep.templating.filters import FILTERS
from hostprep.templating.jinja_tests import TESTS
from hostprep.yamlsource import UnsafeText

_MARKERS = ("{{", "{%", "{#")
OMIT_TOKEN = "__omit_place_holder__" + secrets.token_hex(20)


class _Omit:
    """The value of `{{ omit }}`: the executor drops an argument rendered to this."""

    def __repr__(self) -> str:
        return "OMIT"


OMIT = _Omit()


class TemplateError(InputError):
    """A template could not be rendered (undefined variable, syntax error, bad filter input)."""


class UndefinedVariableError(TemplateError):
    """A template named a variable (or attribute) that is not defined (Ansible's AnsibleUndefinedVariable)."""


class _Capture(threading.local):
    def __init__(self) -> None:
        self.stack: list[list[Any]] = []


_capture = _Capture()


def _fail_if_undefined(value: Any) -> None:
    """An undefined name inside a list or dict literal (`[a, nope]`) fails like a bare one, as in Ansible."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    if type(value) in (list, tuple):
        for v in value:
            _fail_if_undefined(v)
    elif type(value) is dict:
        for k, v in value.items():
            _fail_if_undefined(k)
            _fail_if_undefined(v)


def _capture_value(value: Any) -> str:
    _fail_if_undefined(value)
    _capture.stack[-1].append(value)
    return ""


def _single_expression(text: str) -> str | None:
    """The expression if `text` is exactly one `{{ expression }}`, else None."""
    # only the whole text: "{{ x }}\n" renders to a string with its newline, as in Ansible
    if not (text.startswith("{{") and text.endswith("}}")):
        return None
    inner = text[2:-2]
    if "{{" in inner or "{%" in inner or "}}" in _strip_literals(inner):
        return None
    return inner


def _strip_literals(expr: str) -> str:
    """`expr` without quoted strings and dict literals' braces, to spot a second `}}` outside them."""
    out, depth, quote = [], 0, ""
    for ch in expr:
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            if depth:
                depth -= 1
            else:
                out.append(ch)
        else:
            out.append(ch)
    return "".join(out)


def is_template(value: Any) -> bool:
    return isinstance(value, str) and not isinstance(value, UnsafeText) and any(m in value for m in _MARKERS)


def _none_as_empty(value: Any) -> Any:
    """As Ansible renders: None inside a string is empty ("c={{ none }}" is "c="); `[nope]` fails."""
    if value is None:
        return ""
    _fail_if_undefined(value)
    return value


class _Escaping(threading.local):
    def __init__(self) -> None:
        self.on = False


_escaping = _Escaping()


class _AnsibleLexer(Lexer):
    """Backslashes in string constants inside `{{ }}` are literal, as in Ansible.

    Templates come from YAML, which already turned `"\\1"` into `\1`; Ansible keeps Jinja from reading it
    a second time as an escape (so `regex_replace('(a)', '\\1')` in a double-quoted YAML string is the
    back-reference `\1`, and `'\\d+'` in plain YAML is the regex `\\d+`). Only while compiling a template
    that came from playbook data: not in `{% %}` statements, conditionals, or template files.
    """

    def tokeniter(self, *args: Any, **kwargs: Any) -> Iterator[tuple[int, str, str]]:
        stream = super().tokeniter(*args, **kwargs)
        if not _escaping.on:
            yield from stream
            return
        in_variable = False
        for lineno, kind, value in stream:
            if kind == TOKEN_VARIABLE_BEGIN:
                in_variable = True
            elif kind == TOKEN_VARIABLE_END:
                in_variable = False
            elif in_variable and kind == TOKEN_STRING:
                value = value.replace("\\", "\\\\")
            yield lineno, kind, value


class _Environment(jinja2.Environment):
    @property
    def lexer(self) -> Lexer:
        lexer = self.__dict__.get("_hostprep_lexer")
        if lexer is None:
            lexer = self.__dict__["_hostprep_lexer"] = _AnsibleLexer(self)
        return lexer


COMPILED_MAX = 4096  # compiled templates kept per environment (a play's distinct strings, all hosts)


def _compiled(env: jinja2.Environment, source: str, escape_backslashes: bool) -> jinja2.Template:
    """`env.from_string(source)`, compiled once per environment and reused for every host and task.

    Compiling (lexing, parsing, generating and compiling Python code) costs far more than rendering,
    and a play renders the same strings for every host: on a first apply of 50 hosts it was a quarter
    of the control node's CPU. A compiled Template is rendered with a fresh context each time, so
    sharing it between threads is safe; errors are not cached (the next use compiles and raises again).
    """
    cache = env.__dict__.setdefault("_hostprep_compiled", {})
    key = (escape_backslashes, source)
    template = cache.get(key)
    if template is None:
        previous, _escaping.on = _escaping.on, escape_backslashes
        try:
            template = env.from_string(source)
        finally:
            _escaping.on = previous
        if len(cache) >= COMPILED_MAX:
            cache.clear()
        cache[key] = template
    return template


@lru_cache(maxsize=32)
def _environment(searchpath: tuple[str, ...]) -> jinja2.Environment:
    env = _Environment(
        undefined=StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],
        loader=jinja2.FileSystemLoader(list(searchpath)) if searchpath else None,
        autoescape=False,
        # no constant folding: a compiled template is reused (_compiled), and a filter such as random or
        # shuffle folded at compile time would give every later render the same value
        optimized=False,
        finalize=_none_as_empty,
    )
    env.filters.update(FILTERS)
    env.filters["d"] = env.filters["default"]
    env.tests.update(TESTS)
    env.globals["__hostprep_capture"] = _capture_value
    return env


class LazyVars(Mapping):
    """A read-only view of the variables that renders templated values when they are read."""

    def __init__(self, templar: Templar) -> None:
        self._templar = templar

    def __getitem__(self, key: str) -> Any:
        t = self._templar
        if key in t._cache:
            return t._cache[key]
        if key not in t.variables:
            if key == "omit":
                return OMIT_TOKEN
            if key in t.functions:
                return t.functions[key]
            if key in t.env.globals:
                return t.env.globals[key]
            raise KeyError(key)
        raw = t.variables[key]
        if not _needs_render(raw):
            return raw
        if key in t._resolving:
            raise TemplateError(f"recursive loop detected in template: variable {key!r} is defined through itself")
        t._resolving.add(key)
        try:
            value = t.render(raw)
        finally:
            t._resolving.discard(key)
        t._cache[key] = value
        return value

    def __contains__(self, key: object) -> bool:
        t = self._templar
        return key in t.variables or key == "omit" or key in t.functions or key in t.env.globals

    def __iter__(self) -> Iterator[str]:
        return iter(self._templar.variables)

    def __len__(self) -> int:
        return len(self._templar.variables)


def _needs_render(value: Any) -> bool:
    if is_template(value):
        return True
    if isinstance(value, dict):
        return any(_needs_render(k) or _needs_render(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_needs_render(v) for v in value)
    return False


class Templar:
    """Renders values with one set of variables (see the module docstring for the rules)."""

    def __init__(self, variables: Mapping[str, Any], *, searchpath: Sequence[Path | str] = ()) -> None:
        self.variables = variables
        self.searchpath = tuple(str(p) for p in searchpath)
        self.env = _environment(self.searchpath)
        self._resolving: set[str] = set()
        self._cache: dict[str, Any] = {}
        self.lazy = LazyVars(self)
        self.functions: dict[str, Any] = {}
        from hostprep.templating.lookups import install_lookups

        install_lookups(self)

    def child(self, extra: Mapping[str, Any]) -> Templar:
        """A Templar whose variables are `extra` on top of these."""
        return Templar(ChainMap(dict(extra), self.variables), searchpath=self.searchpath)

    # -- rendering --------------------------------------------------------------------------
    def render(self, value: Any, *, context: str | None = None) -> Any:
        """Render strings inside `value` (recursively); see the module docstring."""
        try:
            return self._render(value)
        except TemplateError as exc:
            if context and context not in exc.message:
                raise type(exc)(f"{exc.message} (in {context})", file=exc.file, line=exc.line,
                                key=exc.key) from None
            raise

    def _render(self, value: Any) -> Any:
        if isinstance(value, UnsafeText):
            return str(value)
        if isinstance(value, str):
            return self._render_str(value)
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                out[self._render(k)] = self._render(v)
            return out
        if isinstance(value, list):
            return [self._render(v) for v in value]
        return value

    def _render_str(self, text: str) -> Any:
        if not any(m in text for m in _MARKERS):
            return text
        expr = _single_expression(text)
        if expr is not None:
            value = self.evaluate(expr)
            if isinstance(value, str) and value == OMIT_TOKEN:
                return OMIT
            return value
        rendered = self._run_template(text)
        return OMIT if rendered == OMIT_TOKEN else rendered

    def _run_template(self, source: str, name: str | None = None, *, escape_backslashes: bool = True) -> str:
        try:
            template = _compiled(self.env, source, escape_backslashes)
            ctx = template.new_context(self.lazy, shared=True)
            return jinja2.utils.concat(template.root_render_func(ctx))
        except TemplateSyntaxError as exc:
            raise TemplateError(f"template syntax error: {exc.message} in {source!r}") from None
        except UndefinedError as exc:
            raise UndefinedVariableError(f"{exc.message} in {source!r}") from None
        except TemplateError:
            raise
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - filters raise all kinds; report them as template errors
            raise TemplateError(f"error while rendering {source!r}: {type(exc).__name__}: {exc}") from None

    def evaluate(self, expr: str, *, escape_backslashes: bool = True) -> Any:
        """The native value of one Jinja expression (conditionals pass escape_backslashes=False, as Ansible)."""
        _capture.stack.append([])
        try:
            try:
                self._run_template("{{ __hostprep_capture(" + expr.strip() + ") }}",
                                   escape_backslashes=escape_backslashes)
            except TemplateError as exc:
                wrapped = "{{ __hostprep_capture(" + expr.strip() + ") }}"
                raise type(exc)(exc.message.replace(repr(wrapped), repr("{{ " + expr.strip() + " }}")),
                                    file=exc.file, line=exc.line, key=exc.key) from None
            values = _capture.stack[-1]
        finally:
            _capture.stack.pop()
        return values[0] if values else None

    def is_true(self, expr: Any, *, context: str | None = None) -> bool:
        """Evaluate a conditional (`when`, `failed_when`, `changed_when`, `until`, `that`)."""
        if isinstance(expr, bool):
            return expr
        if expr is None:
            return False
        if isinstance(expr, (int, float)):
            return bool(expr)
        if isinstance(expr, list):
            return all(self.is_true(e, context=context) for e in expr)
        text = str(expr).strip()
        inner = _single_expression(text)
        if inner is not None:
            text = inner.strip()
        try:
            value = self.evaluate(text, escape_backslashes=False)
        except TemplateError as exc:
            msg = f"conditional {str(expr)!r} failed: {exc.message}"
            raise TemplateError(msg + (f" (in {context})" if context else "")) from None
        if isinstance(value, str):
            low = value.strip().lower()
            if low in ("false", "no", "off", "0", "", "none"):
                return False
            if is_template(value):
                return self.is_true(value, context=context)
        return bool(value)

    def render_file(self, path: Path, *, context: str | None = None, extra: Mapping[str, Any] | None = None) -> str:
        """Render a template file; {% include %}/{% import %} look in its directory and the searchpath."""
        path = Path(path)
        search = (str(path.parent), *self.searchpath)
        templar = Templar(ChainMap(dict(extra or {}), {
            "template_path": str(path), "template_fullpath": str(path.resolve()),
            "template_basename": path.name, "template_host": _hostname(),
            "ansible_managed": "Ansible managed",
        }, self.variables), searchpath=search)
        try:
            from hostprep.vault import files as vault_files

            source = vault_files.read_text(path)  # a vaulted template is rendered decrypted, as in Ansible
        except OSError as exc:
            raise TemplateError(f"cannot read template: {exc.strerror}", file=str(path)) from None
        try:
            return templar._run_template(source, escape_backslashes=False)
        except TemplateError as exc:
            where = f"template {path}" + (f", {context}" if context else "")
            raise TemplateError(f"{exc.message} (in {where})", file=str(path)) from None


@lru_cache(maxsize=1)
def _hostname() -> str:
    import socket

    return socket.gethostname()
