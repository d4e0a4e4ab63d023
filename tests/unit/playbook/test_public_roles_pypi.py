"""Public roles, unchanged, load in hostprep as they load in ansible-playbook.

Galaxy and GitHub are not reachable from CI machines, but PyPI is: these EL roles are published there
as wheels (OpenStack/TripleO's), so the test downloads pinned versions with pip into
/var/cache/hostprep/public-roles (a failed download fails the test) and extracts them at test time;
nothing of them is kept in this repository. Each role must give the same --syntax-check verdict and the
same --list-tasks text as ansible-playbook (ansible-core, without community.general).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
CACHE = Path(os.environ.get("HOSTPREP_PUBLIC_ROLES", "/var/cache/hostprep/public-roles"))
ROLES = {  # PyPI distribution == version: the role it ships
    "ansible-role-chrony==1.3.0": "chrony",
    "ansible-role-container-registry==1.4.0": "container-registry",
    "ansible-role-redhat-subscription==1.3.0": "redhat-subscription",
    "ansible-role-tripleo-modify-image==1.5.0": "tripleo-modify-image",
    "ansible-role-thales-hsm==11.0.0": "thales_hsm",
    "ansible-role-collect-logs==1.5.0": "collect-logs",
}
# ansible-core alone lacks community.general, which this role names (hostprep has ini_file)
ANSIBLE_LACKS_COLLECTION = {"redhat-subscription"}


def wheel(spec: str) -> Path:
    name, version = spec.split("==")
    stem = f"{name.replace('-', '_')}-{version}-"
    found = sorted(CACHE.glob(f"{stem}*.whl"))
    if not found:
        CACHE.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                               "-d", str(CACHE), spec], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"pip could not download {spec}: {proc.stderr[-2000:]}"
        found = sorted(CACHE.glob(f"{stem}*.whl"))
    assert found, f"no wheel for {spec} in {CACHE}"
    return found[0]


def extract(spec: str, roles: Path) -> None:
    with zipfile.ZipFile(wheel(spec)) as archive:
        for member in archive.namelist():
            match = re.search(r"/share/ansible/roles/(.+)$", member)
            if match and not member.endswith("/"):
                dest = roles / match.group(1)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(archive.read(member))


def run(tool: str, work: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(work / ".a"),
           "ANSIBLE_LOCAL_TEMP": str(work / ".t")}
    cmd = [str(BIN / tool), *(["apply"] if tool == "hostprep" else []), "-i", "localhost,", "site.yml", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=work, env=env, timeout=300)


@pytest.mark.parametrize("spec", sorted(ROLES))
def test_public_role_loads_as_in_ansible(tmp_path: Path, spec: str) -> None:
    role = ROLES[spec]
    extract(spec, tmp_path / "roles")
    assert (tmp_path / "roles" / role).is_dir(), f"{spec} ships no role {role}"
    (tmp_path / "site.yml").write_text(f"- hosts: all\n  gather_facts: false\n  roles: [{role}]\n")
    ours = run("hostprep", tmp_path, "--syntax-check")
    if role in ANSIBLE_LACKS_COLLECTION:
        assert ours.returncode == 0, ours.stderr
        return
    theirs = run("ansible-playbook", tmp_path, "--syntax-check")
    assert (ours.returncode == 0) == (theirs.returncode == 0), ours.stderr + theirs.stderr
    if theirs.returncode != 0:
        assert ours.returncode == 3  # bad input, before any host (collect-logs uses the removed bare include)
        return
    listed = run("hostprep", tmp_path, "--list-tasks"), run("ansible-playbook", tmp_path, "--list-tasks")
    assert listed[0].returncode == listed[1].returncode == 0
    assert listed[0].stdout == listed[1].stdout
