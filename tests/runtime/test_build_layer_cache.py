"""The build cache: an unchanged rebuild is served from cache ("CACHED" for every RUN/COPY/ADD, the same image
ID), a changed file, mode, build arg or instruction rebuilds from its step on, --no-cache runs everything, and the
cache outlives `image prune` (the store's gc keeps what the cache names). Under the control node's Python, 3.9
and 3.6 (the `rt` fixture)."""

from __future__ import annotations

import json
from pathlib import Path

DOCKERFILE = """FROM bb
ARG V=one
COPY a /a
RUN cat /a > /b && echo "$V" > /v
COPY c /c
RUN ls / > /listing
"""


def _build(rt, ctx: Path, *extra: str):
    res = rt("build", "-t", "cached", *extra, str(ctx))
    assert res.returncode == 0, res.stdout + res.stderr
    steps = [line for line in res.stdout.splitlines() if line.startswith("STEP ")]
    cached = []
    lines = res.stdout.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("STEP ") and i + 1 < len(lines) and lines[i + 1] == "--> CACHED":
            cached.append(line.split(": ", 1)[1])
    return cached, len(steps), lines[-1]


def test_cache_hits_and_misses(rt) -> None:
    ctx = Path(rt.base) / "cache-ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "a").write_text("a\n")
    (ctx / "c").write_text("c\n")
    cached, steps, first_id = _build(rt, ctx)
    assert cached == [] and steps == 6 and first_id.startswith("sha256:")
    cached, _, again = _build(rt, ctx)
    assert cached == ["COPY a /a", 'RUN cat /a > /b && echo "$V" > /v', "COPY c /c", "RUN ls / > /listing"]
    assert again == first_id  # the same image, history times included
    (ctx / "c").write_text("c changed\n")
    cached, _, changed = _build(rt, ctx)
    assert cached == ["COPY a /a", 'RUN cat /a > /b && echo "$V" > /v'] and changed != first_id
    (ctx / "c").chmod(0o600)  # a mode alone is a change
    cached, _, _ = _build(rt, ctx)
    assert cached == ["COPY a /a", 'RUN cat /a > /b && echo "$V" > /v']
    cached, _, _ = _build(rt, ctx, "--build-arg", "V=two")  # the RUNs see V: they run again
    assert cached == ["COPY a /a"]
    out = rt("run", "--rm", "cached", "cat", "/v")
    assert out.stdout == "two\n", out.stderr
    cached, _, _ = _build(rt, ctx, "--no-cache")
    assert cached == []


def test_cache_survives_image_prune(rt) -> None:
    ctx = Path(rt.base) / "cache-prune"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM bb\nRUN echo kept > /kept\n")
    res = rt("build", "-t", "prune-me", str(ctx))
    assert res.returncode == 0, res.stderr
    assert rt("rmi", "prune-me").returncode == 0
    assert rt("image", "prune").returncode == 0
    res = rt("build", "-t", "prune-me", str(ctx))
    assert res.returncode == 0 and "--> CACHED" in res.stdout, res.stdout + res.stderr
    assert rt("run", "--rm", "prune-me", "cat", "/kept").stdout == "kept\n"


def test_timestamp_makes_no_cache_builds_reproducible(rt) -> None:
    """--timestamp (buildah's; BuildKit's SOURCE_DATE_EPOCH): two --no-cache builds, a second apart, of COPY and
    RUN steps give the same image ID; without it they do not."""
    import time

    ctx = Path(rt.base) / "repro"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM bb\nCOPY f /app/f\nRUN mkdir -p /made/deeper && echo x > /made/x\n")
    (ctx / "f").write_text("f\n")
    ids = []
    for extra in (["--timestamp", "1700000000"], ["--timestamp", "1700000000"], [], []):
        res = rt("build", "--no-cache", "-t", "repro", *extra, str(ctx))
        assert res.returncode == 0, res.stderr
        ids.append(res.stdout.splitlines()[-1])
        time.sleep(1.1)
    assert ids[0] == ids[1] and ids[2] != ids[3]
    assert rt("run", "--rm", "repro", "stat", "-c", "%Y", "/made/x").stdout != "1700000000\n"
    res = rt("build", "--no-cache", "-t", "repro", "--timestamp", "1700000000", str(ctx))
    assert rt("run", "--rm", "repro", "stat", "-c", "%Y", "/made/x", "/app/f").stdout == "1700000000\n" * 2


def test_builder_prune_forgets_the_cache_and_its_layers(rt) -> None:
    ctx = Path(rt.base) / "builder-prune"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM bb\nRUN head -c 300000 /dev/urandom > /r\n")
    res = rt("build", "-t", "bp", str(ctx))
    assert res.returncode == 0, res.stderr
    blobs = Path(rt.state) / "oci/blobs/sha256"
    layer = json.loads(rt("image", "inspect", "bp").stdout)[0]["RootFS"]["Layers"][-1].split(":")[1]
    assert rt("rmi", "bp").returncode == 0 and (blobs / layer).exists()  # kept by the cache
    res = rt("builder", "prune", "-f")
    assert res.returncode == 0 and "Deleted build cache steps:" in res.stdout, res.stderr
    assert not (blobs / layer).exists() and not (Path(rt.state) / "layers" / layer).exists()
    assert (blobs).exists() and rt("run", "--rm", "bb", "true").returncode == 0  # the base image is kept
    res = rt("build", "-t", "bp", str(ctx))
    assert res.returncode == 0 and "CACHED" not in res.stdout
