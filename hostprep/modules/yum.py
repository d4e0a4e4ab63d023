"""yum: the dnf module's behaviour under yum's name; runs dnf where the host has it (EL8+), yum on EL7."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg
from hostprep.modules.dnf import DnfModule

_BACKENDS = {
    "auto": "_hp_pkg=$(command -v dnf || command -v yum || echo yum)",
    "yum": "_hp_pkg=$(command -v yum || echo yum)",
    "yum4": "_hp_pkg=$(command -v dnf || echo dnf)",
    "dnf": "_hp_pkg=$(command -v dnf || echo dnf)",
}


class YumModule(DnfModule):
    name = "yum"
    doc = ("Manage packages the yum way (same arguments as dnf); use_backend=auto runs dnf where the host has "
           "it and yum otherwise. On yum hosts candidate versions come from yum-utils' repoquery.")
    examples = "- yum:\n    name: [yum-utils, device-mapper-persistent-data, lvm2]\n    state: present\n"
    args = {
        **DnfModule.args,
        "use_backend": Arg("str", default="auto", choices=tuple(_BACKENDS)),
        "install_repoquery": Arg("bool", default=True, doc="Accepted for compatibility; nothing is installed."),
    }

    def tool(self, args: dict[str, Any]) -> str:
        return _BACKENDS[args.get("use_backend") or "auto"]
