"""Error types shared by every part of hostprep.

Bad input must be reported with the file, line and key it came from, before any host is
touched; `InputError` carries those three so every loader formats them the same way.
"""

from __future__ import annotations


class HostprepError(Exception):
    """Base of every error hostprep raises on purpose."""


class PlaybookError(HostprepError):
    """An error that ends the whole run at once, as Ansible's errors during a play (exit code 1)."""

    exit_code = 1


class InputError(HostprepError):
    """Bad user input (inventory, playbook, role, variables, arguments)."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = str(self.file)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        key = f"{self.key}: " if self.key else ""
        return f"{where}{key}{self.message}"


class ModuleArgError(InputError):
    """A task passed a module an unknown argument or a value of the wrong type."""


class TransportError(HostprepError):
    """A command or file transfer on a host failed for a reason other than its exit code."""


class UnreachableError(TransportError):
    """The host could not be reached or authenticated (Ansible's UNREACHABLE)."""


class HostKeyError(UnreachableError):
    """The host's SSH key is unknown or changed; never accepted silently."""
