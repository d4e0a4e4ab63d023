#!/usr/bin/env bash
# Build (or find cached under /var/cache/hostprep/vm) what an el9 lab VM boots from: Debian's cloud kernel
# (apt-get download, unpacked, depmod), the lab's small initramfs, and a raw ext4 base disk of the el9 image
# (mke2fs -d), keyed by the image, the kernel package version and the recipe in hostprep/lab/vm.py.
# Cached: about 3 s (apt-cache lookups). From scratch: about 10 s (a 27 MB download, depmod, mke2fs).
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m hostprep.lab.vm prepare el9
