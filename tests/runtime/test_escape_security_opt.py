"""The seccomp filter is on in every container process (run, exec) unless --security-opt seccomp=unconfined;
other --security-opt values are refused, never ignored. (The filter's verdicts per system call family are
tested with the filter itself.)"""

from __future__ import annotations

import os

STATUS = "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status | tr -d '\\t' | tr '\\n' ' '"


def test_seccomp_is_on_unless_unconfined(rt) -> None:
    assert rt("run", "--rm", "bb", "sh", "-c", STATUS).stdout.split() == ["NoNewPrivs:1", "Seccomp:2"]
    res = rt("run", "--rm", "--security-opt", "seccomp=unconfined", "--security-opt", "no-new-privileges", "bb",
             "sh", "-c", STATUS)
    assert res.stdout.split() == ["NoNewPrivs:1", "Seccomp:0"], res.stderr
    name = f"sec{os.getpid()}"
    assert rt("run", "-d", "--name", name, "bb", "sleep", "30").returncode == 0
    try:
        assert rt("exec", name, "sh", "-c", STATUS).stdout.split() == ["NoNewPrivs:1", "Seccomp:2"]
        res = rt("exec", "--security-opt", "seccomp=unconfined", name, "sh", "-c", STATUS)
        assert res.stdout.split() == ["NoNewPrivs:1", "Seccomp:0"], res.stderr
    finally:
        rt("rm", "-f", name)


def test_other_security_options_are_refused(rt) -> None:
    for value in ("apparmor=unconfined", "label=disable", "seccomp=/tmp/profile.json", "no-new-privileges=false"):
        res = rt("run", "--rm", "--security-opt", value, "bb", "true")
        assert res.returncode == 125 and f"unsupported --security-opt {value!r}" in res.stderr, res.stderr
