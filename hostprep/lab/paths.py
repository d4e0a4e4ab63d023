"""Where the lab keeps things and which addresses it uses (one place, so cleanup finds all)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE = Path(os.environ.get("HOSTPREP_CACHE", "/var/cache/hostprep"))
IMAGES = CACHE / "images"
STATE = Path(os.environ.get("HOSTPREP_LAB_STATE", "/var/lib/hostprep/lab"))
HOSTS = STATE / "hosts"
KEY = STATE / "id_ed25519"
KNOWN_HOSTS = STATE / "known_hosts"
RUN = Path("/run/hostprep-lab")

BRIDGE = "hplab0"
BRIDGE_ADDRESS = "10.231.0.1"
PREFIX_LEN = 16
REPO_PORT = 8480
REPO_URL = f"http://{BRIDGE_ADDRESS}:{REPO_PORT}"
NETNS_PREFIX = "hpl-"
VETH_PREFIX = "hplv"
CGROUP_PARENT = "hostprep-lab"

FLAVORS = ("el7", "el8", "el9", "debian12")
