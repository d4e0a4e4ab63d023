"""run's resource options checked as Docker checks them (hostprep/runtime/limits.py): pure rules."""

from __future__ import annotations

import os

import pytest

from hostprep.runtime import limits


@pytest.mark.parametrize("text, value", [("6m", 6 << 20), ("6MB", 6 << 20), ("1g", 1 << 30), ("1.5g", 3 << 29),
                                         ("64mib", 64 << 20), ("7000000", 7000000), ("0", 0), ("1t", 1 << 40)])
def test_memory_sizes(text: str, value: int) -> None:
    assert limits.parse_memory(text) == value


@pytest.mark.parametrize("text, why", [("1k", "Minimum memory limit allowed is 6MB"), ("5m", "6MB"),
                                       ("6291455", "6MB"), ("inf", "a number"), ("nan", "a number"),
                                       ("-1g", "a number"), ("lots", "a number"), ("1.2.3m", "a number"),
                                       ("", "a number"), ("m", "a number")])
def test_bad_memory_sizes(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        limits.parse_memory(text)


def test_cpus_range_is_this_hosts() -> None:
    assert limits.check_cpus(0.5, available=2) == 0.5
    assert limits.check_cpus(0, available=2) is None
    assert limits.check_cpus("2", available=2) == 2.0
    for bad in (2.5, 0.001, -1):
        with pytest.raises(ValueError, match="range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs"):
            limits.check_cpus(bad, available=2)
    for bad in (float("inf"), float("nan"), "-inf"):
        with pytest.raises(ValueError, match="finite"):
            limits.check_cpus(bad, available=2)
    with pytest.raises(ValueError, match="a number of CPUs"):
        limits.check_cpus("two")


def test_container_limits_leave_unlimited_ones_out() -> None:
    cpus = os.cpu_count() or 1
    assert limits.container_limits("64m", cpus, 100) == {"memory": 64 << 20, "cpus": float(cpus), "pids": 100}
    assert limits.container_limits("0", 0, 0) == {}
    assert limits.container_limits(None, None, -1) == {}
    with pytest.raises(ValueError, match="pids-limit"):
        limits.container_limits(None, None, "many")
