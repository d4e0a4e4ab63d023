"""Bearer tokens as Docker gets them: docker-registry with token auth (TLS) answers 401 with a Bearer challenge,
the runtime asks the challenge's realm for a token for the scope (with the stored credentials) and retries;
under the control node's Python, 3.9 and 3.6 (the `rt` fixture)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.runtime.registry_support import PASSWORD, USER, Registry, TokenServer


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("bearer")
    tokens = TokenServer(base / "tokens")
    reg = Registry(base / "registry", token=tokens)
    yield reg, tokens
    reg.stop()
    tokens.stop()


def test_bearer_login_push_pull(rt, token_registry) -> None:
    reg, tokens = token_registry
    certs = Path(rt.state) / "certs.d" / reg.host
    certs.mkdir(parents=True, exist_ok=True)
    shutil.copy(reg.certs["ca"], certs / "ca.crt")
    rt("logout", reg.host)
    res = rt("pull", f"{reg.host}/hprt/bearer:1")
    assert res.returncode == 1 and "no token" in res.stderr and "Traceback" not in res.stderr  # anonymous: refused
    res = rt.input("wrong\n", "login", "-u", USER, "--password-stdin", reg.host)
    assert res.returncode == 1 and "401" in res.stderr
    res = rt.input(PASSWORD + "\n", "login", "-u", USER, "--password-stdin", reg.host)
    assert res.returncode == 0, res.stderr
    ctx = Path(rt.base) / "bearer-ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text('FROM bb\nRUN echo bearer > /b\nCMD ["cat", "/b"]\n')
    assert rt("build", "-t", "bearer-img", str(ctx)).returncode == 0
    tokens.requests.clear()
    res = rt("push", "bearer-img", f"{reg.host}/hprt/bearer:1")
    assert res.returncode == 0, res.stderr
    assert any("scope=repository%3Ahprt%2Fbearer%3Apull%2Cpush" in r for r in tokens.requests), tokens.requests
    assert rt("rmi", "bearer-img").returncode == 0
    res = rt("pull", f"{reg.host}/hprt/bearer:1")
    assert res.returncode == 0, res.stderr
    assert rt("run", "--rm", f"{reg.host}/hprt/bearer:1").stdout == "bearer\n"
