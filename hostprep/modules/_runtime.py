"""What hostprep.runtime.image and hostprep.runtime.container share: the host's runtime as one read-only probe.

The probe asks the runtime itself (`ps -a --format json`, `images --format json`) and reads the records the
modules keep beside its state (where an image came from; how a declared container is started at boot). The
runtime's two listings are read once per probe batch (`once_per_batch`), so any number of image and container
tasks cost one runtime start each on a host, in the one round trip of a no-op run.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from hostprep.modules.shellutil import once_per_batch, q, sections

DEFAULT_EXECUTABLE = "/usr/local/bin/hostprep-runtime"
DEFAULT_STATE_DIR = "/var/lib/hostprep-runtime"
DEFAULT_BOOT_DIR = "/etc/hostprep-runtime/containers"
IMPORTS = "hostprep-imports"  # under the state directory: one record per image a module put there


def normalize_ref(ref: str) -> str:
    """An image name as the runtime stores it (`name` means `name:latest`)."""
    return ref if ":" in ref.rsplit("/", 1)[-1] else ref + ":latest"


def pulled_name(ref: str) -> str:
    """The name `hostprep-runtime pull REF` stores an image under (registry host and repository in full)."""
    from hostprep.runtime.registry import split_ref

    host, repo, tag, digest = split_ref(ref)
    if tag:
        return f"{host}/{repo}:{tag}"
    return f"{host}/{repo}:pulled-{digest.split(':', 1)[1][:12]}"


def record_name(ref: str) -> str:
    """A file name for an image reference (any character of a reference but '/' and ':' is kept)."""
    return normalize_ref(ref).replace("/", "%2F").replace(":", "%3A") + ".json"


def runtime_cmd(executable: str, state_dir: str) -> str:
    """The runtime on the host, on its state directory (the runtime reads it from $HOSTPREP_RUNTIME_ROOT)."""
    return f"HOSTPREP_RUNTIME_ROOT={q(state_dir)} {q(executable)}"


def listing_probe(executable: str, state_dir: str, boot_dir: str) -> str:
    """The shared read: the runtime's containers and images, the image records and the boot records."""
    b = runtime_cmd(executable, state_dir)
    imports = q(f"{state_dir}/{IMPORTS}")
    boot = q(boot_dir)
    body = "\n".join([
        f"if [ -x {q(executable)} ]; then",
        f"echo '@@hostprep:ps@@'; {b} ps -a --format json || echo '@@hostprep:error@@'",
        f"echo '@@hostprep:images@@'; {b} images --format json || echo '@@hostprep:error@@'",
        "else echo '@@hostprep:missing@@'; fi",
        "echo '@@hostprep:imports@@'",
        f"for f in {imports}/*.json; do [ -f \"$f\" ] && cat \"$f\" && echo; done 2>/dev/null",
        "echo '@@hostprep:boot@@'",
        f"for f in {boot}/*.sh; do [ -f \"$f\" ] && printf '%s\\t' \"${{f##*/}}\" && base64 -w0 < \"$f\" && echo;"
        " done 2>/dev/null",
        "true",
    ])
    return once_per_batch(body)


@dataclass
class RuntimeView:
    """The host's runtime as the probe saw it."""

    installed: bool = False
    error: str = ""
    containers: list[dict[str, Any]] = field(default_factory=list)
    images: dict[str, dict[str, Any]] = field(default_factory=dict)  # normalized name -> {digest, id}
    imports: dict[str, dict[str, Any]] = field(default_factory=dict)  # normalized name -> record
    boot: dict[str, str] = field(default_factory=dict)  # file name -> content

    def image(self, ref: str) -> dict[str, Any] | None:
        """An image by the name it was given, else by the name a pull of it stores (docker.io/library/...)."""
        found = self.images.get(normalize_ref(ref))
        if found is None:
            try:
                found = self.images.get(pulled_name(ref))
            except Exception:  # noqa: BLE001 - not a registry reference: there is no other name to try
                found = None
        return found

    def container(self, name: str) -> dict[str, Any] | None:
        found = [c for c in self.containers if c.get("name") == name]
        return max(found, key=lambda c: c.get("created") or 0) if found else None


def parse_view(stdout: str) -> RuntimeView:
    """Read the probe's output (see `listing_probe`); raises ValueError on output it cannot read."""
    import base64

    sec = sections(stdout)
    view = RuntimeView(installed="missing" not in sec)
    if "error" in sec:
        view.error = "the runtime could not list its containers or images"
    if view.installed and "error" not in sec:
        view.containers = list(json.loads(sec.get("ps", "").strip() or "[]"))
        for image in json.loads(sec.get("images", "").strip() or "[]"):
            view.images[image["name"]] = image
    for line in sec.get("imports", "").splitlines():
        if line.strip():
            rec = json.loads(line)
            view.imports[normalize_ref(rec["name"])] = rec
    for line in sec.get("boot", "").splitlines():
        if "\t" in line:
            fname, data = line.split("\t", 1)
            view.boot[fname] = base64.b64decode(data.strip()).decode()
    return view


def usable_view(module: str, probe: Any, executable: str,
                check_mode: bool) -> tuple[RuntimeView | None, str | None]:
    """The probe's view of the host, or why a plan cannot be made from it (an unreadable answer, the
    runtime's own error, no runtime installed outside check mode): both modules start their plan here."""
    try:
        view = parse_view(probe.stdout if probe else "")
    except (ValueError, KeyError) as exc:
        return None, f"{module}: cannot read the runtime's answer: {exc}"
    if view.error:
        return None, f"{module}: {view.error}"
    if not view.installed and not check_mode:
        return None, f"{module}: {executable} is not installed on the host"
    return view, None


def split_command(value: Any) -> list[str] | None:
    """A command as a list (a string is split as a shell would, like docker_container's `command`)."""
    if value is None:
        return None
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]
