#!/usr/bin/env bash
# Set up a fresh Debian 12 machine (as root) for hostprep: apt packages, a virtualenv with
# hostprep and its test tools, and every prepared artifact the lab needs (cached under
# /var/cache/hostprep, keyed by a hash of its recipe). Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export DEBIAN_FRONTEND=noninteractive

log() { printf '\n==> %s\n' "$*"; }

# 1. apt packages: one list per part of the project under ci/apt/
mapfile -t PKGS < <(cat ci/apt/*.txt | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" || { apt-get install -f -y -qq; apt-get install -y -qq --no-install-recommends "${missing[@]}"; }
fi

# 2. virtualenv with hostprep (editable) and the test tools
PY=${HOSTPREP_PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $($PY --version)"
  $PY -m venv .venv
fi
# editable_mode=compat: a plain path entry instead of an import hook, which would cost every start of
# hostprep and hostprep-runtime about 11 ms (see bench/runtime/README.md)
stamp=.venv/.hostprep-deps-$( (cat pyproject.toml; echo editable_mode=compat) | sha256sum | cut -c1-16)
if [ ! -e "$stamp" ]; then
  log "pip install -e .[test]"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q --config-settings editable_mode=compat -e ".[test]"
  touch "$stamp"
fi
# byte-compiled sources: the editable install runs hostprep from this checkout, and with
# PYTHONDONTWRITEBYTECODE set (as in some environments) Python never writes the .pyc files itself, so
# every start would compile each module again (bench/startup/README.md). Keyed by the sources' names and
# mtimes: runs again whenever a source changes (compileall itself only rewrites what is stale).
pyc_stamp=.venv/.hostprep-pyc-$(find hostprep -name '*.py' -printf '%p %T@\n' | sort | sha256sum | cut -c1-16)
if [ ! -e "$pyc_stamp" ]; then
  log "byte-compiling hostprep"
  .venv/bin/python -m compileall -q -j 0 hostprep
  rm -f .venv/.hostprep-pyc-*
  touch "$pyc_stamp"
fi

# 3. prepared artifacts (lab images, lab package repository, ...): each part's own script
for script in ci/prep.d/*.sh; do
  [ -e "$script" ] || continue
  log "prep: $script"
  PATH="$ROOT/.venv/bin:$PATH" bash "$script"
done
log "setup done"
