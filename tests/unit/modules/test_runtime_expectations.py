"""hostprep verify's runtime expectations: the role's defaults under the inventory's variables, the checksum of
the file the role ships, and the declared containers as the runtime records them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from hostprep.verify.runtime_expectations import runtime_expectations

DEMO = yaml.safe_load((Path(__file__).resolve().parents[3] / "inventories" / "runtime-demo.yml").read_text())


def test_expectations_from_the_inventory(tmp_path: Path) -> None:
    binary = tmp_path / "rt.pyz"
    binary.write_bytes(b"#!/bin/sh\n")
    hostvars = {**DEMO["all"]["vars"], "lab_flavor": "el7", "runtime_build": False,
                "runtime_binary_src": str(binary), "runtime_libexec_dir": "/opt/rt"}
    want = runtime_expectations(hostvars)
    assert want["binary_sha256"] == hashlib.sha256(b"#!/bin/sh\n").hexdigest()
    assert want["python_link"] == "/opt/rt/python3" and want["kernel_modules"] == ["overlay"]
    (demo,) = want["containers"]
    assert demo == {"name": "demo", "state": "started", "cmd": DEMO["all"]["vars"]["runtime_containers"][0]["command"],
                    "env": ["DEMO_MODE=lab"], "memory": 64 << 20, "cpus": 0.5, "pids_limit": 32, "read_only": True,
                    "volumes": ["/etc/hostprep-demo:/etc/demo:ro"], "hostname": "demo", "user": None}


def test_the_default_is_the_control_nodes_cached_build(tmp_path: Path) -> None:
    out = tmp_path / "cache" / "hostprep-runtime.pyz"
    want = runtime_expectations({"runtime_binary_src": str(out)})
    assert out.is_file() and want["binary_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert out.read_bytes().startswith(b"#!/usr/local/libexec/hostprep-runtime/python3 ")
    assert want["containers"] == []
