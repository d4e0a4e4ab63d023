"""What a converged host should look like, from its own variables and the role's defaults.

The suites must check a fleet's own settings (its pin, users, daemon.json), so expectations
are resolved per host with the same precedence `hostprep apply` uses for a role: the role's
defaults, then per-release vars, then the inventory's variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hostprep.playbook.loader import shipped_roles_dir
from hostprep.yamlsource import load_yaml_file

DOCKER_ROLE = shipped_roles_dir() / "docker"  # package data, the same role `hostprep apply` finds as hostprep.docker


def _major(hostvars: Mapping[str, Any], facts: Mapping[str, Any] | None) -> int:
    if facts and facts.get("distribution_major_version"):
        return int(facts["distribution_major_version"])
    for key in ("lab_flavor", "hostprep_lab_flavor"):
        flavor = str(hostvars.get(key, ""))
        if flavor.startswith("el") and flavor[2:].isdigit():
            return int(flavor[2:])
    return 9


def role_variables(role_dir: Path, major: int, hostvars: Mapping[str, Any]) -> dict[str, Any]:
    """A role's variables for one host as the role sees them (defaults, then vars/RedHat-<major>.yml, then
    the host's own), unrendered: each suite renders the ones it checks."""
    layered: dict[str, Any] = {}
    layered.update(load_yaml_file(role_dir / "defaults" / "main.yml") or {})
    release_vars = role_dir / "vars" / f"RedHat-{major}.yml"
    if release_vars.exists():
        layered.update(load_yaml_file(release_vars) or {})
    layered.update(hostvars)
    return layered


def docker_expectations(
    hostvars: Mapping[str, Any], facts: Mapping[str, Any] | None = None, role_dir: Path = DOCKER_ROLE
) -> dict[str, Any]:
    """Resolved expectations of roles/docker for one host (JSON-serialisable)."""
    from hostprep.templating import Templar

    major = _major(hostvars, facts)
    layered = role_variables(role_dir, major, hostvars)
    if facts:
        layered.setdefault("ansible_facts", dict(facts))
    templar = Templar(layered)

    def get(name: str) -> Any:
        return templar.render(layered[name], context=f"variable {name}")

    def flag(name: str) -> bool:
        value = get(name)
        return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "yes", "true", "on", "y")

    return {
        "major": major,
        "engine_packages": list(get("docker_engine_packages")),
        "prerequisites": list(get("docker_prerequisites")),
        "conflicting_packages": list(get("docker_conflicting_packages")),
        "remove_conflicts": flag("docker_remove_conflicts"),
        "docker_version": str(get("docker_version") or ""),
        "repo_base_url": str(get("docker_repo_base_url")),
        "gpg_fingerprint": str(get("docker_gpg_fingerprint")),
        "channel_test": flag("docker_channel_test"),
        "channel_nightly": flag("docker_channel_nightly"),
        "daemon_config": dict(get("docker_daemon_config") or {}),
        "service_enabled": flag("docker_service_enabled"),
        "docker_users": list(get("docker_users") or []),
        "compose_method": str(get("docker_compose_method")),
    }
