"""The mark an explicit stop leaves in a container's directory (`stop`, `kill` with SIGKILL/SIGTERM, `rm -f`):
its restart policy does not start it again, nor does `system boot` for `unless-stopped`; `start` clears it.
A leaf module (os only): state.py sets it, supervisor.py and lifecycle.py read it."""

import os

STOPPED_MARK = "stopped"


def stopped_by_hand(cdir):
    return os.path.exists(os.path.join(cdir, STOPPED_MARK))


def mark_stopped(cdir):
    try:
        os.close(os.open(os.path.join(cdir, STOPPED_MARK), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
    except FileNotFoundError:
        pass


def clear_stopped(cdir):
    try:
        os.unlink(os.path.join(cdir, STOPPED_MARK))
    except FileNotFoundError:
        pass
