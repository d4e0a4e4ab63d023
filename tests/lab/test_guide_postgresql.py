"""Issue 13 §3: the Docker guide's PostgreSQL Dockerfile (examples/postgresql) built for real by
hostprep-runtime on the lab's centos:7 (the EL7 lab image tree, `hostprep lab base-image`), its
`yum install postgresql-server ...` served by the lab repository (Debian's PostgreSQL 15.20 as lab RPMs),
then run, and its database answers a query through psql inside the container.

Slow parts are cached by recipe hash: the repository and the EL7 tree (as for every lab test), the layer
tar of the tree (beside it). A second build of the same context is served from the build cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hostprep.lab import baseimage, network, paths
from hostprep.lab.repo import ensure_served
from tests.runtime.build_peer import runtime_env

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "postgresql"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("guide-pg") / "state"
    env = runtime_env(state)

    def rt(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hostprep.runtime", *args], capture_output=True, text=True,
                              env=env, timeout=timeout)

    tar = baseimage.layer_tar("el7")
    network.ensure_bridge()
    ensure_served(paths.BRIDGE_ADDRESS, paths.REPO_PORT)
    res = rt("import", "--cmd", "/bin/bash", str(tar), "centos:7")
    assert res.returncode == 0, res.stderr
    started = time.monotonic()
    res = rt("build", "--network", "host", "-t", "postgresql:guide", str(EXAMPLE))
    cold = time.monotonic() - started
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    yield {"rt": rt, "build_output": res.stdout, "cold": cold}
    rt("rm", "-f", "hi-guide-pg", timeout=60)


def test_guide_dockerfile_builds_on_lab_centos7(built) -> None:
    out = built["build_output"]
    assert "Installed:" in out and "postgresql-server-15.20-1.lab.x86_64" in out  # yum really installed them
    assert "Success. You can now start the database server" in out  # initdb as postgres (su -) ran
    res = built["rt"]("image", "inspect", "postgresql:guide")
    assert res.returncode == 0, res.stderr
    cfg = json.loads(res.stdout)[0]["Config"]
    assert cfg["ExposedPorts"] == {"5432/tcp": {}}
    assert cfg["Volumes"] == {"/var/lib/pgsql/data": {}, "/var/log/pgsql": {}}
    assert cfg["Entrypoint"] == ["/usr/local/bin/docker-entrypoint.sh"] and cfg["Cmd"] == ["postgres"]


def test_guide_rebuild_is_cached(built) -> None:
    res = built["rt"]("build", "--network", "host", "-t", "postgresql:guide", str(EXAMPLE))
    assert res.returncode == 0, res.stderr
    runs = [line for line in res.stdout.splitlines() if line.startswith("STEP") and " RUN " in line]
    assert len(runs) == 3
    assert res.stdout.count("CACHED") == 4, res.stdout  # every step that makes a layer (3 RUN, 1 COPY)


def test_guide_database_answers_a_query(built) -> None:
    rt = built["rt"]
    res = rt("run", "-d", "--name", "hi-guide-pg", "-e", "POSTGRES_PASSWORD=s3cret'x", "postgresql:guide",
             timeout=60)
    assert res.returncode == 0, res.stderr
    deadline = time.monotonic() + 60
    while True:
        ready = rt("exec", "-u", "postgres", "hi-guide-pg", "pg_isready", timeout=30)
        if ready.returncode == 0:
            break
        assert time.monotonic() < deadline, ready.stdout + ready.stderr + rt("logs", "hi-guide-pg").stdout
        time.sleep(0.3)
    query = ("create table t(n int); insert into t select generate_series(1, 10); "
             "select sum(n), current_setting('data_directory'), current_user from t")
    res = rt("exec", "-u", "postgres", "hi-guide-pg", "psql", "-v", "ON_ERROR_STOP=1", "-Atc", query, timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "55|/var/lib/pgsql/data|postgres"
    # the password the entrypoint set from POSTGRES_PASSWORD (quote and all) is the one md5 auth checks
    res = rt("exec", "-e", "PGPASSWORD=s3cret'x", "hi-guide-pg", "psql", "-h", "127.0.0.1", "-U", "postgres",
             "-Atc", "select 1", timeout=30)
    assert res.returncode == 0 and res.stdout.strip() == "1", res.stderr
    res = rt("exec", "-e", "PGPASSWORD=wrong", "hi-guide-pg", "psql", "-h", "127.0.0.1", "-U", "postgres",
             "-Atc", "select 1", timeout=30)
    assert res.returncode != 0 and "password authentication failed" in res.stderr
    res = rt("exec", "hi-guide-pg", "rpm", "-q", "postgresql-server", "postgresql-pltcl", timeout=30)
    assert res.stdout.split() == ["postgresql-server-15.20-1.lab.x86_64", "postgresql-pltcl-15.20-1.lab.x86_64"]
