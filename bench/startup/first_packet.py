"""Run `hostprep` (arguments as given) and write when its first TCP connection was opened.

The bench starts this with the wall-clock time of the spawn in HOSTPREP_BENCH_T0; the file named by
HOSTPREP_BENCH_OUT receives the seconds from the spawn to the first `connect()` of a TCP socket: hostprep's
start-up before its first packet (imports, loading and checking the playbook and inventory).
"""

import os
import runpy
import socket
import sys
import time

_connect = socket.socket.connect
_seen = []


def _first(self, address):  # noqa: ANN001, ANN202 - socket's own signature
    if not _seen and self.family in (socket.AF_INET, socket.AF_INET6):
        _seen.append(time.time())
        with open(os.environ["HOSTPREP_BENCH_OUT"], "w") as out:
            out.write(f"{_seen[0] - float(os.environ['HOSTPREP_BENCH_T0']):.4f}\n")
    return _connect(self, address)


socket.socket.connect = _first
sys.argv = ["hostprep", *sys.argv[1:]]
runpy.run_module("hostprep.cli.main", run_name="__main__")
