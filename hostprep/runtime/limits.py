"""`run`'s resource options checked as Docker checks them, before anything is made on the host.

- `-m/--memory`: a size with an optional binary unit (b, k, m, g, t; `kb`, `mib` ... accepted); below Docker's
  minimum of 6 MB refused; 0 means no limit.
- `--cpus`: a finite number from 0.01 up to the CPUs this host has; 0 means no limit.
- `--pids-limit`: a positive number of tasks; 0 and any negative number (-1 in Docker's words) mean no limit.
"""

import os

MIN_MEMORY = 6 * 1024 * 1024
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


class InvalidLimit(ValueError):
    """An option value Docker would refuse (the CLI reports it with exit code 125)."""


def parse_memory(text):
    """Bytes of a -m value; InvalidLimit naming the value otherwise."""
    raw = str(text).strip()
    low = raw.lower()
    for suffix in ("ib", "b", "i"):
        if low.endswith(suffix) and len(low) > len(suffix) and low[-len(suffix) - 1] in "kmgtp":
            low = low[:-len(suffix)]
            break
    unit = low[-1:] if low[-1:] in "kmgtpb" else ""
    number = low[:-1] if unit else low
    if not number or number.count(".") > 1 or not number.replace(".", "").isdigit():
        raise InvalidLimit("invalid size {!r} for -m: a number with an optional unit (b, k, m, g), e.g. 64m"
                           .format(raw))
    value = int(float(number) * _UNITS[unit])
    if 0 < value < MIN_MEMORY:
        raise InvalidLimit("invalid size {!r} for -m: Minimum memory limit allowed is 6MB".format(raw))
    return value


def check_cpus(cpus, available=None):
    """The --cpus value, or None for no limit; InvalidLimit outside 0.01 .. this host's CPUs."""
    try:
        value = float(cpus)
    except (TypeError, ValueError):
        raise InvalidLimit("invalid --cpus {!r}: a number of CPUs, e.g. 1.5".format(cpus))
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidLimit("invalid --cpus {!r}: not a finite number".format(cpus))
    if value == 0:
        return None
    available = available or os.cpu_count() or 1
    if value < 0.01 or value > available:
        raise InvalidLimit("range of CPUs is from 0.01 to {}.00, as there are only {} CPUs available".format(
            available, available))
    return value


def container_limits(memory=None, cpus=None, pids=None):
    """The cgroup limits of `run`'s options: {"memory": bytes, "cpus": float, "pids": int}, unset ones left out."""
    limits = {}
    if memory is not None and str(memory) != "":
        value = parse_memory(memory)
        if value:
            limits["memory"] = value
    if cpus is not None:
        value = check_cpus(cpus)
        if value is not None:
            limits["cpus"] = value
    if pids is not None:
        try:
            count = int(pids)
        except (TypeError, ValueError):
            raise InvalidLimit("invalid --pids-limit {!r}: a whole number (0 or -1: no limit)".format(pids))
        if count > 0:
            limits["pids"] = count
    return limits
