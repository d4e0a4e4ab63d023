#!/usr/bin/env bash
# The main job on the embedded default: on a fresh Debian 12 machine as root, set everything up,
# boot local lab hosts (an emulated EL9 and EL7 host), apply site.yml with hostprep (Docker CE as
# Docker's CentOS guide installs it, then hostprep-runtime with the declared container of
# inventories/runtime-demo.yml), apply it again (nothing may change), and verify the hosts with the
# bundled testinfra suites (docker and runtime). The hosts stay up for you to look at;
# `hostprep lab down demo-el9 demo-el7` removes them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
INV=(-i inventories/lab/demo-el9.yml -i inventories/lab/demo-el7.yml -i inventories/runtime-demo.yml)

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "lab hosts: hostprep lab up (el9 + el7) -> inventories/lab/demo-el{9,7}.yml"
hostprep lab down demo-el9 demo-el7 >/dev/null 2>&1 || true
hostprep lab up -n 1 --flavor el9 --name demo-el9 --inventory inventories/lab/demo-el9.yml
hostprep lab up -n 1 --flavor el7 --name demo-el7 --inventory inventories/lab/demo-el7.yml

step "hostprep apply ${INV[*]} site.yml (Docker CE, then hostprep-runtime and a declared container)"
hostprep apply "${INV[@]}" site.yml

step "hostprep apply again: a converged fleet must not change (--detailed-exitcode: 0 = no change)"
hostprep apply "${INV[@]}" site.yml --detailed-exitcode --json | tail -n 1

step "hostprep verify (docker and runtime suites)"
hostprep verify "${INV[@]}"

step "the declared container on each host (hostprep-runtime ps, its limits)"
for host in demo-el9 demo-el7; do
  echo "--- $host"
  hostprep lab ssh "$host" -- 'hostprep-runtime ps; hostprep-runtime inspect demo |
    grep -E "\"(memory|cpus|pids_limit|read_only)\": [0-9tf]"'
done

step "done: hosts are still up (hostprep lab list); remove them with: hostprep lab down demo-el9 demo-el7"
