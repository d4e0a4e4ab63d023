#!/usr/bin/env bash
# Peers the runtime's build and registry tests compare against (tests/runtime/test_build_*.py,
# test_registry_*.py): podman/buildah/skopeo from ci/apt/runtime.txt need runc (crun refuses this machine's
# hybrid cgroups), cgroupfs and a file events log, and limits at or below the sandbox's (LAB-NOTES, "Peers for
# the runtime"). Only written when missing, so a machine's own configuration is left alone.
set -euo pipefail
CONF=/etc/containers/containers.conf
if [ ! -e "$CONF" ]; then
  mkdir -p /etc/containers
  cat > "$CONF.tmp" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  mv "$CONF.tmp" "$CONF"
fi
podman --version
