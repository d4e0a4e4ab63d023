#!/usr/bin/env bash
# Build (or find cached under /var/cache/hostprep/repo/<recipe hash>) the lab's signed RPM repository.
set -euo pipefail
python -m hostprep.lab.repo build
