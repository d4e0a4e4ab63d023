#!/usr/bin/env bash
# The main job on the embedded default: on a fresh Debian 12 machine as root, set everything up,
# boot local lab hosts (an emulated EL9 and EL7 host), apply site.yml (Docker CE as Docker's
# CentOS guide installs it) with hostprep, apply it again (nothing may change), and verify the
# hosts with the bundled testinfra suite. The hosts stay up for you to look at;
# `hostprep lab down --name demo` removes them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
INV=inventories/lab/hosts.yml

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "lab hosts: hostprep lab up (el9 + el7) -> $INV"
hostprep lab down --name demo >/dev/null 2>&1 || true
hostprep lab up -n 1 --flavor el9 --name demo-el9 --inventory inventories/lab/demo-el9.yml
hostprep lab up -n 1 --flavor el7 --name demo-el7 --inventory inventories/lab/demo-el7.yml

step "hostprep apply -i inventories/lab site.yml"
hostprep apply -i inventories/lab/demo-el9.yml -i inventories/lab/demo-el7.yml site.yml

step "hostprep apply again: a converged fleet must not change (--detailed-exitcode: 0 = no change)"
hostprep apply -i inventories/lab/demo-el9.yml -i inventories/lab/demo-el7.yml site.yml --detailed-exitcode

step "hostprep verify"
hostprep verify -i inventories/lab/demo-el9.yml -i inventories/lab/demo-el7.yml

step "done: hosts are still up (hostprep lab list); remove them with: hostprep lab down demo-el9 demo-el7"
