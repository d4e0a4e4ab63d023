"""hostprep.runtime.container with ports, volumes, tmpfs, a restart policy, a health command and log options:
planned from the probe output captured on an EL9 lab host (a container made by a runtime that did not record
these options reads as having their defaults, so it is kept)."""

from __future__ import annotations

import json

from hostprep.modules.base import Command
from tests.unit.modules.test_runtime_plans import CAPTURED, DEMO, plan

MORE = {"ports": ["5432:5432", "127.0.0.1:8080:80/tcp"], "tmpfs": ["/run:size=1m"], "restart": "always",
        "health_cmd": "test -f /tmp/ok", "log_opt": ["max-size=1m"], "volumes": ["pgdata:/var/lib/pgsql/data"]}


def recorded_as(status: str = "running", **config) -> str:
    """The captured output with the demo container recorded by this runtime: these options in its config."""
    head, _, rest = CAPTURED.partition("@@hostprep:ps@@\n")
    ps, _, tail = rest.partition("\n@@hostprep:images@@")
    states = json.loads(ps)
    for state in states:
        if state["name"] == "demo":
            state["config"].update(config)
            state["status"] = status
    return head + "@@hostprep:ps@@\n" + json.dumps(states) + "\n@@hostprep:images@@" + tail


def test_an_older_record_reads_as_the_defaults() -> None:
    assert plan("hostprep.runtime.container", {**DEMO, "restart": "no", "ports": [], "tmpfs": []}).changed is False


def test_new_options_are_run_and_compared() -> None:
    p = plan("hostprep.runtime.container", {**DEMO, **MORE})
    assert p.result["differs"] == ["volumes", "publish", "tmpfs", "restart", "health_cmd", "log_opt"]
    run = [s.cmd for s in p.steps if isinstance(s, Command) and " run -d " in s.cmd][0]
    for words in ("-p 5432:5432", "-p 127.0.0.1:8080:80/tcp", "--tmpfs /run:size=1m", "--restart always",
                  "--health-cmd 'test -f /tmp/ok'", "--log-opt max-size=1m", "-v pgdata:/var/lib/pgsql/data"):
        assert words in run, (words, run)
    recorded = {"publish": MORE["ports"], "tmpfs": MORE["tmpfs"], "restart": "always", "health_cmd": "test -f /tmp/ok",
                "log_opt": MORE["log_opt"], "volumes": MORE["volumes"]}
    same = plan("hostprep.runtime.container", {**DEMO, **MORE}, stdout=recorded_as(**recorded))
    assert same.result["differs"] in ([], ["boot record"]), same.result["differs"]
    assert not any(isinstance(s, Command) and " run -d " in s.cmd for s in same.steps)
    # its restart policy at work: restarting is not a reason to make it again
    busy = plan("hostprep.runtime.container", {**DEMO, **MORE}, stdout=recorded_as("restarting", **recorded))
    assert not any(isinstance(s, Command) and " run -d " in s.cmd for s in busy.steps)
    other = plan("hostprep.runtime.container", {**DEMO, **MORE, "restart": "unless-stopped"},
                 stdout=recorded_as(**recorded))
    assert other.result["differs"] == ["restart"]


def test_a_bad_restart_policy_is_refused() -> None:
    for bad in ("sometimes", "always:3", "on-failure:x"):
        p = plan("hostprep.runtime.container", {**DEMO, "restart": bad})
        assert p.failed and "restart policy" in p.msg, bad
    assert not plan("hostprep.runtime.container", {**DEMO, "restart": "on-failure:3"}).failed
