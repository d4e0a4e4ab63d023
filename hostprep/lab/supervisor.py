"""Keeps one lab host running: runs systemd-nspawn and starts it again after a reboot.

systemd-nspawn exits with status 133 when the container asks to reboot; restarting it turns
`systemctl reboot` inside a lab host into a real reboot. Any other exit ends the supervisor.
Usage: python -m hostprep.lab.supervisor NAME -- systemd-nspawn ARGS...
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

REBOOT_STATUS = 133


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") != 1:
        print("usage: supervisor NAME -- COMMAND...", file=sys.stderr)
        return 2
    name, cmd = argv[0], argv[2:]
    from hostprep.lab import cgroups

    cgroups.join(name)
    while True:
        started = time.monotonic()
        status = subprocess.call(cmd)
        print(f"supervisor[{name}]: nspawn exited {status} after {time.monotonic() - started:.1f}s", flush=True)
        if status != REBOOT_STATUS:
            return status
        marker = os.environ.get("HOSTPREP_LAB_BOOTS")
        if marker:
            with open(marker, "a", encoding="utf-8") as handle:
                handle.write(f"{time.time()}\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
