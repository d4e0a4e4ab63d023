"""Which ansible-core manages which lab release, as on real hosts.

ansible-core 2.17 and newer need Python 3.7+ (3.8+ from 2.18) on the target, so they cannot manage
EL7's Python 2.7 or EL8's platform-python 3.6; 2.16 is the last release that can. The project's venv
holds the current ansible-core; ci/prep.d/40-ansible-216.sh installs 2.16 in a venv of its own.
"""

from __future__ import annotations

import sys
from pathlib import Path

CURRENT = Path(sys.executable).parent
ANSIBLE_216 = Path("/var/cache/hostprep/ansible-2.16/bin")
NEEDS_216 = ("el7", "el8")


def ansible_bin(flavor: str) -> Path:
    """The bin directory of the ansible-core that manages `flavor`'s system Python (fails loudly if absent)."""
    if flavor not in NEEDS_216:
        return CURRENT
    if not (ANSIBLE_216 / "ansible-playbook").exists():
        raise RuntimeError(f"{ANSIBLE_216}/ansible-playbook is missing: run ci/prep.d/40-ansible-216.sh "
                           "(ansible-core 2.16 manages EL7/EL8 system Python; newer releases cannot)")
    return ANSIBLE_216
