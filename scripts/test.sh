#!/usr/bin/env bash
# Run hostprep's whole test suite on a fresh Debian 12 machine as root: sets everything up
# first (scripts/setup.sh), then lint and pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "==> ruff check"
ruff check hostprep tests bench
echo "==> pytest"
exec python -m pytest -p no:cacheprovider -ra "$@"
