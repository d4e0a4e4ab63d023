"""What a host converged by roles/runtime should look like, from its own variables and the role's defaults.

Resolved like docker_expectations (role defaults, per-release vars, then the inventory), plus the one fact
that only the control node knows: the checksum of the runtime build the role ships (the same cached,
reproducible build `hostprep apply` uploads, or the file named by runtime_binary_src).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hostprep.playbook.loader import shipped_roles_dir
from hostprep.verify.expectations import _major, role_variables

RUNTIME_ROLE = shipped_roles_dir() / "runtime"


def runtime_expectations(hostvars: Mapping[str, Any], facts: Mapping[str, Any] | None = None,
                         role_dir: Path = RUNTIME_ROLE) -> dict[str, Any]:
    """Resolved expectations of roles/runtime for one host (JSON-serialisable)."""
    from hostprep.modules._runtime import split_command
    from hostprep.modules.runtime_container import parse_size
    from hostprep.runtime.build import build_cached
    from hostprep.templating import Templar

    major = _major(hostvars, facts)
    layered = role_variables(role_dir, major, hostvars)
    templar = Templar(layered)

    def get(name: str) -> Any:
        return templar.render(layered[name], context=f"variable {name}")

    def flag(value: Any) -> bool:
        return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "yes", "true", "on", "y")

    src = str(get("runtime_binary_src"))
    if flag(get("runtime_build")):
        build_cached(src, str(get("runtime_python_link")))
    digest = hashlib.sha256(Path(src).read_bytes()).hexdigest()
    containers = []
    for entry in get("runtime_containers") or []:
        if str(entry.get("state", "started")) != "started":
            containers.append({"name": entry["name"], "state": str(entry.get("state"))})
            continue
        containers.append({
            "name": entry["name"], "state": "started",
            "cmd": split_command(entry.get("command")) or [],
            "env": [f"{k}={v}" for k, v in sorted((entry.get("env") or {}).items())],
            "memory": parse_size(entry["memory"]) if entry.get("memory") not in (None, "") else None,
            "cpus": float(entry["cpus"]) if entry.get("cpus") is not None else None,
            "pids_limit": int(entry["pids_limit"]) if entry.get("pids_limit") is not None else None,
            "read_only": flag(entry.get("read_only", False)),
            "volumes": list(entry.get("volumes") or []),
            "hostname": entry.get("hostname"),
            "user": entry.get("user"),
        })
    return {
        "binary_path": str(get("runtime_binary_path")),
        "binary_sha256": digest,
        "python_link": str(get("runtime_python_link")),
        "libexec_dir": str(get("runtime_libexec_dir")),
        "state_dir": str(get("runtime_state_dir")),
        "kernel_modules": list(get("runtime_kernel_modules") or []),
        "service_enabled": flag(get("runtime_service_enabled")),
        "containers": containers,
    }
