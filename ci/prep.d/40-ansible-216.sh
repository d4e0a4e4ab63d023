#!/usr/bin/env bash
# ansible-core 2.16 in a virtualenv of its own (/var/cache/hostprep/ansible-2.16): the last ansible-core
# that manages Python 2.7 and 3.6 targets, i.e. EL7's and EL8's system Python. The twin tests run it
# against el7/el8 lab hosts (tests/integration/ansible_versions.py); the project's own venv keeps the
# current ansible-core for el9. Cached: a version check (about 1 s). From scratch: about 40 s (pip downloads).
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=/var/cache/hostprep/ansible-2.16
# (read the version from Python: `ansible-playbook --version | head -1` dies of SIGPIPE under pipefail)
version() { "$VENV/bin/python" -c 'import ansible.release as r; print(r.__version__)' 2>/dev/null || true; }
if [[ "$(version)" != 2.16.* ]]; then
  rm -rf "$VENV"
  python -m venv "$VENV"
  "$VENV/bin/pip" install -q 'ansible-core>=2.16,<2.17'
fi
# roles/runtime builds hostprep-runtime on the control node with ansible_playbook_python -m
# hostprep.runtime.build: this checkout's hostprep (standard library only there) must import
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$PWD" > "$site/hostprep-checkout.pth"
echo "ansible-core $(version) in $VENV"
