#!/usr/bin/env bash
# Build (or find cached under /var/cache/hostprep/repo/<recipe hash>) the lab's signed RPM repository.
# The hash covers hostprep/lab/repo.py, hostprep/lab/packages/*.py and the Debian versions used, so
# a second run is a hash check (under a second); a build from scratch takes about 35-75 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m hostprep.lab.repo build
