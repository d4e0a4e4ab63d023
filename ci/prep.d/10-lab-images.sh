#!/usr/bin/env bash
# Build (or find cached under /var/cache/hostprep/images) the lab images the tests boot.
# EL images install their release's base set and Python from the lab repository (hostprep/lab/image.py),
# so the first EL image builds that repository (see 20-lab-repo.sh; then a hash check). With the
# repository and the Debian base tree cached, an EL image takes about 7 s (copy, customise, rpm --root).
set -euo pipefail
for flavor in el9 el7 el8 debian12; do
  hostprep lab image build --flavor "$flavor"
done
