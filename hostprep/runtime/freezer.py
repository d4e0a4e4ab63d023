"""Freezing a container's processes (pause/unpause): the freezer cgroup on v1 (`freezer.state`), `cgroup.freeze`
on v2 (its state read back from `cgroup.events`). A leaf module: stop and kill thaw a paused container first."""

import os
import time

from hostprep.runtime.cgroups import Cgroup


class FreezerError(ValueError):
    """No freezer here, or it did not settle (a ValueError: the CLI reports it with exit code 125)."""


def _knob(cid):
    cgroup = Cgroup(cid)
    if cgroup.v == 2:
        return 2, os.path.join(cgroup.paths["unified"], "cgroup.freeze")
    path = cgroup.paths.get("freezer")
    if not path or not os.path.isdir(path):
        raise FreezerError("no freezer cgroup for this container here (pause needs the freezer controller)")
    return 1, os.path.join(path, "freezer.state")


def is_frozen(cid):
    try:
        v, path = _knob(cid)
        if v == 2:
            with open(os.path.join(os.path.dirname(path), "cgroup.events")) as handle:
                return "frozen 1" in handle.read()
        with open(path) as handle:
            return handle.read().strip() == "FROZEN"
    except (OSError, FreezerError):
        return False


def set_frozen(cid, frozen, timeout=10.0):
    v, path = _knob(cid)
    word = ("1" if frozen else "0") if v == 2 else ("FROZEN" if frozen else "THAWED")
    with open(path, "w") as handle:
        handle.write(word)
    deadline = time.monotonic() + timeout
    while is_frozen(cid) != frozen:
        if time.monotonic() > deadline:
            raise FreezerError("the freezer did not settle")
        time.sleep(0.01)


def thaw(cid):
    """Let a paused container run again (before it is stopped or killed); quiet when it is not paused."""
    if is_frozen(cid):
        try:
            set_frozen(cid, False)
        except (OSError, FreezerError):
            pass
