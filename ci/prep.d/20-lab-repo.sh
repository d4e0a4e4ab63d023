#!/usr/bin/env bash
# Build (or find cached under /var/cache/hostprep/repo/<recipe hash>) the lab's signed RPM repository.
# The hash covers hostprep/lab/repo.py, hostprep/lab/packages/*.py and the Debian versions used, so
# a second run is a hash check (under a second). A build from scratch took 100-160 s here with other work
# running (about 50 s of CPU): the EL Pythons (pyenv builds staged and packaged, ~25 RPMs, 15 MB each for
# the standard libraries) and ~100 small base-set markers roughly doubled it. EL images (10-lab-images.sh)
# now build the repository first: their base set and Python are installed from it (about 7 s per flavour).
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m hostprep.lab.repo build
