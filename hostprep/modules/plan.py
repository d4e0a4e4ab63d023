"""The data of the module contract: arguments, the steps of a plan, the plan, a probe's output.

A leaf of the modules package (base.py defines the Module class around these; apply.py carries
out a plan), so the argument checker and the plan runner need not import base.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Arg:
    """One module argument, with Ansible's name, type and meaning."""

    type: str = "str"  # str, bool, int, float, list, dict, path, raw, mode
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] | None = None
    aliases: tuple[str, ...] = ()
    elements: str | None = None  # element type for lists
    no_log: bool = False
    doc: str = ""


@dataclass
class Command:
    """A step: run a shell command on the host (with the task's become unless `become=False`)."""

    cmd: str
    become: bool | None = None
    stdin: bytes | None = None
    env: dict[str, str] | None = None
    check_rc: bool = True  # a non-zero rc fails the task
    no_log: bool = False
    # only reads the host to report the result (e.g. the path's stat after a change): it runs even after
    # Ctrl-C, since the change it reports has been made and the result should say so
    reads_only: bool = False


@dataclass
class Upload:
    """A step: write bytes to a file atomically with mode/owner/group."""

    data: bytes
    dest: str
    mode: str | None = None
    owner: str | None = None
    group: str | None = None


Step = Command | Upload


@dataclass
class Plan:
    """What a module would do: `changed` with steps, a diff for --diff, and return values."""

    changed: bool = False
    steps: list[Step] = field(default_factory=list)
    diff: list[dict[str, Any]] | dict[str, Any] | None = None
    result: dict[str, Any] = field(default_factory=dict)
    failed: bool = False
    msg: str = ""


@dataclass
class ProbeResult:
    """The probe's output on one host (stdout is what modules parse)."""

    rc: int
    stdout: str
    stderr: str = ""
