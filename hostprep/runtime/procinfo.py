"""Whether a process lives, and when it started: a leaf module (os only), so that the name reservations
(refs.py) and the container records (state.py) can both ask without importing each other."""

import os


def alive(pid):
    """True while `pid` exists and is no zombie (never for 0 or a negative number: kill() would ask about a
    process group)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/{}/stat".format(pid)) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def start_time(pid):
    """The kernel's start time of `pid` (clock ticks since boot): tells a process from a later one with its pid."""
    try:
        with open("/proc/{}/stat".format(pid)) as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None
