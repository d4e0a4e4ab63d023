"""hostprep-runtime's seccomp filter: every family Docker's default profile denies is denied by the real kernel.

Each probe runs in a forked child of tests/runtime/seccomp_probe.py, once with the filter installed and once
without, under every Python the runtime supports. Without the filter the kernel answers something other than
EPERM (the arguments make the call fail harmlessly), so an EPERM with the filter is the filter's doing; calls the
profile permits give the same answer both ways.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from hostprep.runtime import seccomp
from tests.runtime.support import PYTHONS, python_for

PROBE = Path(__file__).with_name("seccomp_probe.py")
MACHINE = os.uname().machine

DENIED = ["mount", "umount2", "unshare_user", "unshare_mnt", "clone_newuser", "clone_newns", "setns", "keyctl",
          "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd", "kexec_load", "kexec_file_load",
          "init_module", "finit_module", "delete_module", "open_by_handle_at", "reboot", "swapon", "swapoff",
          "settimeofday", "clock_settime", "acct", "pivot_root", "quotactl", "lookup_dcookie", "syslog",
          "sethostname", "io_uring_setup", "fsopen", "personality_exec", "socket_decnet", "ioctl_tiocsti",
          "ioctl_tioclinux"] + (["iopl", "ioperm"] if MACHINE == "x86_64" else [])
PERMITTED = ["getpid", "socket_inet", "clone_plain", "personality_query", "ioctl_tcgets", "chroot", "ptrace",
             "name_to_handle_at"]
KILLED = ["x32_getpid"] + (["i386_getpid"] if MACHINE == "x86_64" else [])


@pytest.fixture(scope="module", params=PYTHONS)
def probes(request: pytest.FixtureRequest) -> dict[str, dict]:
    if os.geteuid() != 0:
        raise RuntimeError("the seccomp probes need root (they show the kernel's answer without the filter)")
    out = {}
    for mode in ("filter", "nofilter"):
        res = subprocess.run([python_for(request.param), str(PROBE), mode], capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 0, res.stderr
        out[mode] = json.loads(res.stdout)
    return out


@pytest.mark.parametrize("probe", DENIED)
def test_denied_family_gets_eperm_from_the_filter(probes: dict, probe: str) -> None:
    assert probes["filter"][probe] == {"ret": -1, "errno": errno.EPERM}, probes["filter"][probe]
    without = probes["nofilter"][probe]
    assert "error" not in without and without.get("errno") != errno.EPERM, without


def test_clone3_answers_enosys_so_libc_falls_back_to_clone(probes: dict) -> None:
    assert probes["filter"]["clone3"] == {"ret": -1, "errno": errno.ENOSYS}
    assert probes["nofilter"]["clone3"]["errno"] != errno.ENOSYS


@pytest.mark.parametrize("probe", PERMITTED)
def test_permitted_call_answers_as_without_the_filter(probes: dict, probe: str) -> None:
    with_f, without = probes["filter"][probe], probes["nofilter"][probe]
    assert "error" not in with_f and "signal" not in with_f, with_f
    assert with_f["errno"] == without["errno"], (with_f, without)
    assert (with_f["ret"] >= 0) == (without["ret"] >= 0), (with_f, without)
    assert with_f["errno"] != errno.EPERM


@pytest.mark.parametrize("probe", KILLED)
def test_call_through_another_abi_kills_the_process(probes: dict, probe: str) -> None:
    assert probes["filter"][probe] == {"signal": signal.SIGSYS}
    assert "signal" not in probes["nofilter"][probe], probes["nofilter"][probe]


# -- the program itself (pure) ---------------------------------------------------------------------------------
@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_program_gives_every_number_the_verdict_of_the_rules(machine: str) -> None:
    """The binary search agrees with the rules for every number in use, its neighbours and the 32-bit edges."""
    prog = seccomp.program(machine, release="6.1.0")
    rules = seccomp.rules(machine, release="6.1.0")
    arch = seccomp.AUDIT_ARCH[machine]
    allow, eperm = seccomp.RET_ALLOW, seccomp.RET_ERRNO | errno.EPERM
    numbers = set(range(0, 600)) | {0x3FFFFFFF, 0x7FFFFFFF, 0xFFFFFFFF, -1}
    for nr in sorted(numbers):
        expected = {seccomp.ALLOW: allow, seccomp.NOSYS: seccomp.RET_ERRNO | errno.ENOSYS}.get(rules.get(nr), eperm)
        if rules.get(nr) in ("clone", "socket", "personality", "ioctl"):
            continue  # argument checks: below
        if machine == "x86_64" and 0x40000000 <= (nr & 0xFFFFFFFF) < 0x80000000:
            expected = seccomp.RET_KILL_PROCESS
        assert seccomp.evaluate(prog, nr, arch) == expected, (machine, nr)
    numbers_by_name = seccomp.table(machine)
    assert seccomp.evaluate(prog, numbers_by_name["mount"], arch) == eperm
    assert seccomp.evaluate(prog, numbers_by_name["read"], arch) == allow
    assert seccomp.evaluate(prog, numbers_by_name["read"], 0x40000003) == seccomp.RET_KILL_PROCESS  # i386
    assert len(prog) < 1000


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_argument_checks(machine: str) -> None:
    prog = seccomp.program(machine, release="6.1.0")
    n = seccomp.table(machine)
    arch = seccomp.AUDIT_ARCH[machine]
    allow, eperm = seccomp.RET_ALLOW, seccomp.RET_ERRNO | errno.EPERM

    def verdict(name: str, *args: int) -> int:
        return seccomp.evaluate(prog, n[name], arch, args)

    assert verdict("clone", 17) == allow
    for flag in (0x10000000, 0x20000, 0x2000000, 0x4000000, 0x8000000, 0x20000000, 0x40000000):
        assert verdict("clone", flag | 17) == eperm, hex(flag)
    assert [verdict("socket", f) for f in (1, 2, 10, 11, 16, 17, 45)] == [allow] * 7
    assert [verdict("socket", f) for f in (12, 19, 20, 23, 25, 34, 46, 0xFFFFFFFF)] == [eperm] * 8
    assert [verdict("personality", p) for p in (0, 8, 0x20000, 0x20008, 0xFFFFFFFF)] == [allow] * 5
    assert [verdict("personality", p) for p in (0x400000, 0x0040000, 1)] == [eperm] * 3
    assert verdict("ioctl", 0, 0x5412) == eperm
    assert verdict("ioctl", 0, 0x541C) == eperm
    assert verdict("ioctl", 0, 0x5401) == allow


def test_ptrace_is_denied_before_linux_4_8_as_docker_does() -> None:
    for machine in ("x86_64", "aarch64"):
        n = seccomp.table(machine)
        arch = seccomp.AUDIT_ARCH[machine]
        old = seccomp.program(machine, release="4.4.0-210-generic")
        new = seccomp.program(machine, release="4.18.0-553.el8_10.x86_64")
        for name in ("ptrace", "process_vm_readv", "process_vm_writev"):
            assert seccomp.evaluate(old, n[name], arch) == seccomp.RET_ERRNO | errno.EPERM
            assert seccomp.evaluate(new, n[name], arch) == seccomp.RET_ALLOW


def test_x86_64_table_matches_the_kernel_headers() -> None:
    header = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
    if not header.exists():
        raise RuntimeError(f"{header} is needed to check the syscall table (apt-get install linux-libc-dev)")
    numbers = dict(re.findall(r"#define __NR_(\w+) (\d+)", header.read_text()))
    assert len(numbers) > 300
    for name, nr in numbers.items():
        assert seccomp.table("x86_64")[name] == int(nr), name


def test_dump_names_each_verdict() -> None:
    import io

    out = io.StringIO()
    seccomp.dump("x86_64", names=["mount", "read", "clone", "nosuchcall"], out=out)
    text = out.getvalue()
    assert re.search(r"^mount\s+165\s+errno Operation not permitted$", text, re.M), text
    assert re.search(r"^read\s+0\s+allow$", text, re.M), text
    assert "arguments checked" in text and "no such call" in text


# -- from inside a container (the filter installed by the runtime right before exec) ------------------------
USERNS = "unshare -U true; echo rc=$?"


def test_container_cannot_make_a_user_namespace_unless_unconfined(rt) -> None:
    """Creating a user namespace needs no capability: only the filter stops it (the way into every other
    namespace and a root of one's own); --security-opt seccomp=unconfined shows it is the filter."""
    confined = rt("run", "--rm", "bb", "sh", "-c", USERNS + "; unshare -r -m true; echo rc=$?")
    assert confined.stdout.split() == ["rc=1", "rc=1"], confined.stderr
    assert "Operation not permitted" in confined.stderr
    unconfined = rt("run", "--rm", "--security-opt", "seccomp=unconfined", "bb", "sh", "-c", USERNS)
    assert unconfined.stdout.split() == ["rc=0"], unconfined.stderr


def test_exec_gets_the_filter_too(rt) -> None:
    started = rt("run", "-d", "bb", "sleep", "60")
    assert started.returncode == 0, started.stderr
    cid = started.stdout.strip()
    try:
        confined = rt("exec", cid, "sh", "-c", USERNS)
        assert confined.stdout.split() == ["rc=1"], confined.stderr
        unconfined = rt("exec", "--security-opt", "seccomp=unconfined", cid, "sh", "-c", USERNS)
        assert unconfined.stdout.split() == ["rc=0"], unconfined.stderr
    finally:
        rt("rm", "-f", cid)


def test_container_keeps_the_calls_docker_permits(rt) -> None:
    """personality(PER_LINUX32) through linux32, adjtimex reading the clock, chroot (CAP_SYS_CHROOT)."""
    res = rt("run", "--rm", "bb", "sh", "-c",
             "linux32 true; echo $?; adjtimex >/dev/null; echo $?; chroot / true; echo $?")
    assert res.stdout.split() == ["0", "0", "0"], res.stderr


# the families a container's root can reach without any capability: only the filter stands in their way
UNPRIVILEGED = ["keyctl", "add_key", "request_key", "unshare_user", "clone_newuser", "io_uring_setup", "bpf",
                "perf_event_open", "personality_exec", "socket_decnet", "ioctl_tiocsti", "ioctl_tioclinux"]


@pytest.fixture(scope="module")
def python_image(rt) -> list[str]:
    """An image of the host's /usr/bin/python3 (its libraries, and libffi for ctypes) and the `run` options
    that lend it the standard library and the probe script read-only."""
    host_python = "/usr/bin/python3"
    if not os.path.exists(host_python):
        raise RuntimeError(f"{host_python} is needed to probe system calls from inside a container")
    where = "import sysconfig, _ctypes; print(sysconfig.get_paths()['stdlib']); print(_ctypes.__file__)"
    stdlib, ctypes_so = subprocess.run([host_python, "-c", where], capture_output=True, text=True,
                                       check=True).stdout.split()
    made = rt("image", "from-host", "seccomp-py", host_python, ctypes_so)
    assert made.returncode == 0, made.stderr
    root = Path(__file__).resolve().parents[2]
    return ["-v", f"{stdlib}:{stdlib}:ro", "-v", f"{root}/hostprep:/probe/hostprep:ro",
            "-v", f"{root}/tests:/probe/tests:ro", "seccomp-py", host_python, "-S",
            "/probe/tests/runtime/seccomp_probe.py", "nofilter"]


def test_system_calls_from_inside_a_container(rt, python_image: list[str]) -> None:
    """The probes run inside a container as its root, with the runtime's filter and with seccomp=unconfined:
    each unprivileged family is EPERM only with the filter (TIOCSTI on the container's own controlling terminal
    needs no capability), other ABIs kill, getpid works either way."""
    probes = [*UNPRIVILEGED, *KILLED, "getpid"]
    answers = {}
    for mode, extra in (("filter", []), ("unconfined", ["--security-opt", "seccomp=unconfined"])):
        res = rt("run", "--rm", *extra, *python_image, *probes)
        assert res.returncode == 0, res.stderr
        answers[mode] = json.loads(res.stdout)
    for probe in UNPRIVILEGED:
        assert answers["filter"][probe] == {"ret": -1, "errno": errno.EPERM}, (probe, answers["filter"][probe])
        assert answers["unconfined"][probe].get("errno") != errno.EPERM, (probe, answers["unconfined"][probe])
    for probe in KILLED:  # x32, and i386 on x86_64
        assert answers["filter"][probe] == {"signal": signal.SIGSYS}, probe
        assert "signal" not in answers["unconfined"][probe], (probe, answers["unconfined"][probe])
    assert answers["filter"]["getpid"]["ret"] > 0 and answers["unconfined"]["getpid"]["ret"] > 0
