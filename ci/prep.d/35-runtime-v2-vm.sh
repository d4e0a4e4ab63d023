#!/usr/bin/env bash
# The lab image the whole runtime suite runs in on a pure cgroup v2 VM (tests/runtime/test_cgroup_v2_vm.py):
# the el9 image plus the runtime tests' peers (ci/apt/runtime.txt, apt-get in a chroot) and the control node's
# Python, virtualenv and 3.6, then its VM base disk; cached under /var/cache/hostprep/{images,vm} keyed by a
# hash of its recipe (tests/runtime/v2vm.py). Cached: about 2 s. From scratch: 1-4 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m tests.runtime.v2vm prepare
