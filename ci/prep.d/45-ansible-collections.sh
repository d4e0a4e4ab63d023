#!/usr/bin/env bash
# The two Ansible collections whose modules hostprep also implements (community.general's ini_file,
# ansible.posix's sysctl, mount, authorized_key), for the local result oracle
# (tests/unit/modules/test_result_oracle_more.py): taken from the `ansible` package of PyPI (the release that
# goes with the venv's ansible-core 2.19), only those two collections kept. Cached by that release:
# a directory check when present; from scratch about 20 s (a 54 MB wheel).
set -euo pipefail
cd "$(dirname "$0")/../.."
RELEASE=12.3.0
DIR=/var/cache/hostprep/ansible-collections-$RELEASE
if [[ ! -f "$DIR/ansible_collections/community/general/plugins/modules/ini_file.py" ||
      ! -f "$DIR/ansible_collections/ansible/posix/plugins/modules/sysctl.py" ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  .venv/bin/pip download -q --no-deps "ansible==$RELEASE" -d "$tmp"
  rm -rf "$DIR.new"
  mkdir -p "$DIR.new"
  .venv/bin/python - "$tmp"/ansible-"$RELEASE"-*.whl "$DIR.new" <<'PY'
import sys
import zipfile

wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    z.extractall(dest, [n for n in z.namelist()
                        if n.startswith(("ansible_collections/community/general/", "ansible_collections/ansible/posix/"))])
PY
  rm -rf "$DIR"
  mv "$DIR.new" "$DIR"
fi
echo "ansible collections community.general, ansible.posix (ansible $RELEASE) in $DIR"
