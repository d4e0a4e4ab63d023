"""The inventory's data: hosts, groups, and their own (unmerged) variables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Host:
    """A host as the inventory defines it; `vars` are its own inventory-file variables."""

    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)  # direct groups, in the order it joined them

    def __hash__(self) -> int:
        return hash(self.name)


@dataclass
class Group:
    """A group with its own variables, hosts and child groups, in definition order."""

    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    priority: int = 1

    def set_var(self, key: str, value: Any, *, file: str | None = None, line: int | None = None) -> None:
        """An inventory-source variable; `ansible_group_priority` is the group's priority, not a variable."""
        if key == "ansible_group_priority":
            try:
                self.priority = int(value)
            except (TypeError, ValueError):
                from hostprep.errors import InputError

                raise InputError(f"ansible_group_priority of group {self.name} must be a number, got {value!r}",
                                 file=file, line=line, key=key) from None
        else:
            self.vars[key] = value

    def add_host(self, host: Host) -> None:
        if host.name not in self.hosts:
            self.hosts.append(host.name)
        if self.name not in host.groups:
            host.groups.append(self.name)

    def add_child(self, child: Group) -> None:
        if child.name not in self.children:
            self.children.append(child.name)
        if self.name not in child.parents:
            child.parents.append(self.name)
