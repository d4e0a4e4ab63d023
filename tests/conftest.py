"""Shared fixtures: lab hosts booted once per test session and removed by name at its end."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


class Lab:
    """Boots lab hosts for tests and remembers every name it started, to remove exactly those."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self._cache: dict[tuple[int, str, str], list] = {}

    def up(self, n: int = 1, flavor: str = "el9", name: str = "t") -> list:
        from hostprep.lab.api import up

        key = (n, flavor, name)
        if key not in self._cache:
            prefix = f"pt{os.getpid() % 10000}-{name}"
            hosts = up(n, flavor, prefix)
            self.started.append(prefix)
            self._cache[key] = hosts
        return self._cache[key]

    def down(self, name: str) -> None:
        from hostprep.lab.api import down

        prefix = f"pt{os.getpid() % 10000}-{name}"
        down(name=prefix)
        self._cache = {k: v for k, v in self._cache.items() if k[2] != name}
        if prefix in self.started:
            self.started.remove(prefix)

    def close(self) -> None:
        from hostprep.lab.api import down

        for prefix in self.started:
            down(name=prefix)
        self.started.clear()


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        raise RuntimeError("lab tests need root: run the suite as root (scripts/test.sh)")
    lab = Lab()
    try:
        yield lab
    finally:
        lab.close()
