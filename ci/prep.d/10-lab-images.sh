#!/usr/bin/env bash
# Build (or find cached under /var/cache/hostprep/images) the lab images the tests boot.
set -euo pipefail
for flavor in el9 el7 el8 debian12; do
  hostprep lab image build --flavor "$flavor"
done
