"""Become methods, in the manner of Ansible's become plugins: sudo and su.

A method owns everything that differs between them, in one place: the command line that runs a
shell command as another user, how its password prompt looks (sudo is told to print a prompt
of ours with `-p`; su prints PAM's own, localised "Password:"), how it says the password was
wrong or a terminal is needed, and whether it can run without a terminal at all. The SSH
transport drives the conversation (answer the prompt once, then wait for the command's start
marker) with whichever method a task asks for; nothing else in hostprep knows a method's words.

A `become_method` hostprep cannot do (Ansible's pbrun, pfexec, doas, dzdo, ksu, runas,
machinectl, ...) is refused before any host is touched: the playbook loader checks literal
values with `method_error`, and `method_for` refuses anything else when a task is prepared.
"""

from __future__ import annotations

import functools
import re
import shlex
from typing import Any

from hostprep.errors import InputError
from hostprep.transport.base import BecomeSpec

SUDO_PROMPT = "[hostprep-become-password]"
# Ansible's other become plugins: named so the refusal can say they exist but are not supported
_ANSIBLE_ONLY = ("doas", "dzdo", "enable", "ksu", "machinectl", "pbrun", "pfexec", "runas", "sesu")


class BecomeMethod:
    """What one method says and expects. Subclasses: `Sudo`, `Su`."""

    name = ""
    # su reads its password from the terminal: it always runs on a pty
    needs_tty = False

    def command(self, spec: BecomeSpec, inner: str, *, tty: bool) -> str:
        """The command line (for the login user's shell) that runs the shell line `inner` as spec.user."""
        raise NotImplementedError

    def batch_command(self, spec: BecomeSpec, inner: str, *, keep_stdin: bool = False) -> str | None:
        """`command` for a script run without a terminal, the password (if any) on stdin; None if impossible.

        `keep_stdin`: the command reads the caller's stdin (else the method may close it).
        """
        raise NotImplementedError

    def prompts(self, text: str) -> int:
        """How many password prompts `text` (what the method printed before the command started) holds."""
        raise NotImplementedError

    def strip_prompts(self, text: str) -> str:
        """`text` without the prompts (and the line end printed after the password was read)."""
        raise NotImplementedError

    def tty_required(self, text: str) -> bool:
        """Whether the method refused because it wants a terminal (sudoers `requiretty`)."""
        return False

    def refused(self, text: str, answered: int) -> bool:
        """Whether the method refused the password it was given (from its words and the prompt count)."""
        raise NotImplementedError


class Sudo(BecomeMethod):
    """`sudo -H -u USER`: `-n` without a password, else `-S` (stdin) or the pty with our own prompt."""

    name = "sudo"
    _tty = re.compile(r"sorry, you must have a tty to run sudo|you must have a tty", re.IGNORECASE)
    _prompt_line = re.compile(re.escape(SUDO_PROMPT) + r"\r?\n?")

    def command(self, spec: BecomeSpec, inner: str, *, tty: bool) -> str:
        user = shlex.quote(spec.user or "root")
        if spec.password is None:
            auth = "-n"
        elif tty:
            auth = f"-p {shlex.quote(SUDO_PROMPT)}"
        else:
            auth = f"-S -p {shlex.quote(SUDO_PROMPT)}"
        flags = f" {spec.flags}" if spec.flags else ""
        return f"{shlex.quote(spec.exe or 'sudo')} -H {auth} -u {user}{flags} {inner}"

    def batch_command(self, spec: BecomeSpec, inner: str, *, keep_stdin: bool = False) -> str | None:
        return self.command(spec, inner, tty=False)

    def prompts(self, text: str) -> int:
        return text.count(SUDO_PROMPT)

    def strip_prompts(self, text: str) -> str:
        return self._prompt_line.sub("", text)

    def tty_required(self, text: str) -> bool:
        return bool(self._tty.search(text))

    def refused(self, text: str, answered: int) -> bool:
        return answered > 1  # sudo asks again after a wrong password


class Su(BecomeMethod):
    """`su [FLAGS] USER -c CMD`, as Ansible's su plugin: the password goes to PAM's prompt on a pty."""

    name = "su"
    needs_tty = True
    # PAM's prompt word in the languages su is translated to ("Password:", "root's Password:", ...)
    LOCALISED = ("Password", "Passwort", "Mot de passe", "Contraseña", "Contrasenya", "Senha", "Wachtwoord",
                 "Lösenord", "Adgangskode", "Passord", "Parool", "Salasana", "Hasło", "Heslo", "Jelszó", "Parola",
                 "Pasahitza", "Sandi", "Mật khẩu", "Пароль", "Парола", "Лозинка", "Κωδικός", "ססמה", "密码", "密碼",
                 "口令", "パスワード", "암호")
    _refusal = re.compile(r"authentication failure|incorrect password|sorry", re.IGNORECASE)

    def __init__(self, words: tuple[str, ...] = ()) -> None:
        self.words = words or self.LOCALISED
        self._prompt_pattern = (r"(?:\w+'s )?(?:" + "|".join(re.escape(w) for w in self.words)
                                + r") ?[:：] ?")

    @functools.cached_property
    def _prompt(self) -> re.Pattern[str]:
        # compiled on first use: a case-insensitive Unicode pattern takes milliseconds, every run would pay
        return re.compile(self._prompt_pattern, re.IGNORECASE)

    @functools.cached_property
    def _prompt_line(self) -> re.Pattern[str]:
        return re.compile(self._prompt_pattern + r"\r?\n?", re.IGNORECASE)

    def command(self, spec: BecomeSpec, inner: str, *, tty: bool) -> str:
        flags = f"{spec.flags} " if spec.flags else ""
        return f"{shlex.quote(spec.exe or 'su')} {flags}{shlex.quote(spec.user or 'root')} -c {shlex.quote(inner)}"

    def batch_command(self, spec: BecomeSpec, inner: str, *, keep_stdin: bool = False) -> str | None:
        # without a terminal su can only work where it asks nothing (the login user is root); in a
        # script its stdin is closed, so it can never read a line meant for another segment
        if spec.password is not None:
            return None
        return self.command(spec, inner, tty=False) + ("" if keep_stdin else " </dev/null")

    def prompts(self, text: str) -> int:
        return len(self._prompt.findall(text))

    def strip_prompts(self, text: str) -> str:
        return self._prompt_line.sub("", text)

    def refused(self, text: str, answered: int) -> bool:
        return answered > 1 or (answered == 1 and bool(self._refusal.search(self.strip_prompts(text))))


METHODS: dict[str, BecomeMethod] = {m.name: m for m in (Sudo(), Su())}


def method_error(value: Any) -> str | None:
    """Why `value` cannot be a become_method (None when hostprep can do it, or it is a template)."""
    if value is None:
        return None
    text = str(value).strip()
    if "{{" in text or "{%" in text:
        return None  # decided when the task is prepared for a host (method_for)
    if text in METHODS:
        return None
    known = "an Ansible become plugin that hostprep does not implement" if text in _ANSIBLE_ONLY else \
        "not a become method"
    return f"become_method {text!r} is {known} (hostprep supports: {', '.join(METHODS)})"


@functools.lru_cache(maxsize=16)
def _su_with(words: tuple[str, ...]) -> Su:
    return Su(words)


def method_for(spec: BecomeSpec) -> BecomeMethod:
    """The method of `spec`; an unsupported one (e.g. from a templated value) is bad input."""
    method = METHODS.get(spec.method)
    if method is None:
        raise InputError(method_error(spec.method) or f"become_method {spec.method!r} is not supported",
                         key="become_method")
    if spec.prompts and isinstance(method, Su):
        return _su_with(tuple(spec.prompts))
    return method


def batch_line(spec: BecomeSpec, inner: str, *, keep_stdin: bool = False) -> str | None:
    """The line that runs `inner` as the become user without a terminal, or None if it cannot."""
    return method_for(spec).batch_command(spec, inner, keep_stdin=keep_stdin)
