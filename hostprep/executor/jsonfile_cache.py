"""Ansible's `jsonfile` fact cache: `fact_caching = jsonfile` in ansible.cfg (or $ANSIBLE_CACHE_PLUGIN).

One JSON file per host, `<fact_caching_connection>/<fact_caching_prefix><host>`, holding the host's
facts as Ansible keeps them in its cache: gathered facts with their `ansible_` prefix, facts returned
by modules, `set_fact: ... cacheable: true` values, and `_ansible_facts_gathered` once the host's facts
were gathered. A file older than `fact_caching_timeout` seconds (0: never) is expired.

As in Ansible, cached facts are a host's facts from the start of a run (also for plays that do not
gather), `gathering = smart` gathers only hosts whose cache does not say they were gathered, and
`--flush-cache` removes the files of the run's hosts. hostprep writes the format ansible-core up to
2.18 writes and reads (plain JSON); it also reads the `s1_` files of ansible-core 2.19+ (a JSON
`__payload__` whose tagged values are unwrapped). This cache is separate from hostprep's own
probe-guessing cache (factcache.py), which never serves as facts.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GATHERED = "_ansible_facts_gathered"


@dataclass(frozen=True)
class JsonFileCache:
    directory: Path
    timeout: int = 86400
    prefix: str = ""

    def _files(self, host: str) -> tuple[Path, Path]:
        return self.directory / f"{self.prefix}{host}", self.directory / f"{self.prefix}s1_{host}"

    def get(self, host: str) -> dict[str, Any] | None:
        """The host's cached facts, or None (no file, expired, unreadable)."""
        plain, tagged = self._files(host)
        for path in (plain, tagged):
            try:
                if self.timeout > 0 and time.time() - path.stat().st_mtime > self.timeout:
                    continue
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if path is tagged and isinstance(data, dict) and isinstance(data.get("__payload__"), str):
                try:
                    data = _untag(json.loads(data["__payload__"]))
                except ValueError:
                    continue
            if isinstance(data, dict):
                return data
        return None

    def set(self, host: str, facts: Mapping[str, Any]) -> None:
        """Write atomically (temp file, rename), as Ansible's file caches do."""
        path = self._files(host)[0]
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{host}-", dir=self.directory)
        except OSError as exc:
            raise OSError(f"cannot write the fact cache in {self.directory}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(dict(facts), handle, default=str, sort_keys=True, indent=4)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def flush(self, host: str) -> bool:
        removed = False
        for path in self._files(host):
            try:
                path.unlink()
                removed = True
            except OSError:
                pass
        return removed


def _untag(value: Any) -> Any:
    """ansible-core 2.19's tagged values ({"value": 1, "tags": [...], "__ansible_type": ...}) as plain data."""
    if isinstance(value, dict):
        if "__ansible_type" in value:
            if "value" in value:
                return _untag(value["value"])
            return {k: _untag(v) for k, v in value.items() if k != "__ansible_type"}
        return {k: _untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untag(v) for v in value]
    return value


def from_config(cfg: Any) -> tuple[JsonFileCache | None, str | None]:
    """The cache ansible.cfg asks for (None for the memory cache) and a warning to show, as Ansible's."""
    if str(cfg.get("fact_caching")).lower() != "jsonfile":
        return None, None
    directory = cfg.get("fact_caching_connection")
    if not directory:
        # Ansible warns and keeps facts in memory only
        return None, "[WARNING]: Required config '_uri' for 'jsonfile' cache plugin not provided."
    return JsonFileCache(Path(directory), int(cfg.get("fact_caching_timeout")),
                         str(cfg.get("fact_caching_prefix") or "")), None


def cached_entry(facts: Mapping[str, Any], plain: set[str], cacheable: Mapping[str, Any],
                 gathered: bool) -> dict[str, Any]:
    """What a host's cache file holds: facts with Ansible's names, cacheable set_facts, the gathered mark."""
    out: dict[str, Any] = {}
    for key, value in facts.items():
        out[key if key in plain or key.startswith("_") else f"ansible_{key}"] = value
    out.update(cacheable)
    if gathered:
        out[GATHERED] = True
        out["module_setup"] = True
    return out


def split_entry(entry: Mapping[str, Any]) -> tuple[dict[str, Any], set[str], bool]:
    """A cache file's content as hostprep keeps facts: (facts by plain name, names that are plain variables,
    whether the host's facts were gathered)."""
    facts: dict[str, Any] = {}
    plain: set[str] = set()
    for key, value in entry.items():
        if key in (GATHERED, "module_setup"):
            continue
        if key.startswith("ansible_"):
            facts[key[len("ansible_"):]] = value
        else:
            facts[key] = value
            plain.add(key)
    return facts, plain, bool(entry.get(GATHERED))
