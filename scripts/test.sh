#!/usr/bin/env bash
# Run hostprep's whole test suite on a fresh Debian 12 machine as root: sets everything up
# first (scripts/setup.sh), then lint and pytest. Arguments, if any, select the tests (they go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "==> ruff check"
ruff check hostprep tests bench
if (($#)); then  # a selection of tests: run just that
  echo "==> pytest $*"
  exec python -m pytest -p no:cacheprovider -ra "$@"
fi
# tests/unit (pure logic and the oracle runs against ansible-playbook & co. on this machine, no lab hosts)
# runs on two workers; everything that boots lab hosts, starts containers or compares machine-wide state
# (tests/integration, tests/lab, tests/runtime, tests/packaging) runs after it, one test at a time.
# Both phases always run; the script fails if either did.
rc=0
echo "==> pytest tests/unit (2 workers)"
python -m pytest -p no:cacheprovider -ra --durations=10 -n 2 tests/unit || rc=$?
echo "==> pytest (the rest, one test at a time)"
python -m pytest -p no:cacheprovider -ra --durations=30 --ignore=tests/unit || rc=$?
exit "$rc"
