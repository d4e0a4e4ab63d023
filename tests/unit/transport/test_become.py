"""The become methods (sudo, su): their command lines, prompts and refusals, and what is refused up front."""

from __future__ import annotations

import pytest

from hostprep.errors import InputError
from hostprep.executor.probebatch import ProbeRequest, build_batch
from hostprep.transport.base import BecomeSpec
from hostprep.transport.become import METHODS, SUDO_PROMPT, method_error, method_for
from hostprep.transport.connect import become_from_vars, check_host
from hostprep.transport.options import ConnectionOptions


def test_sudo_command_lines() -> None:
    sudo = METHODS["sudo"]
    assert sudo.command(BecomeSpec(True, "app"), "X", tty=False) == "sudo -H -n -u app X"
    assert sudo.command(BecomeSpec(True, password="p"), "X", tty=False) == f"sudo -H -S -p '{SUDO_PROMPT}' -u root X"
    assert sudo.command(BecomeSpec(True, password="p", flags="-E"), "X", tty=True) == \
        f"sudo -H -p '{SUDO_PROMPT}' -u root -E X"
    assert "p" not in sudo.command(BecomeSpec(True, password="secret"), "X", tty=False).split()


def test_su_command_line_and_terminal() -> None:
    su = METHODS["su"]
    assert su.command(BecomeSpec(True, "postgres", method="su"), "/bin/sh -c 'id'", tty=True) == \
        "su postgres -c '/bin/sh -c '\"'\"'id'\"'\"''"
    assert su.command(BecomeSpec(True, method="su", flags="-l"), "id", tty=True) == "su -l root -c id"
    assert su.needs_tty and not METHODS["sudo"].needs_tty
    # in a script without a terminal only a password-less su can run, never reading the script's stdin
    assert su.batch_command(BecomeSpec(True, method="su", password="p"), "id") is None
    assert su.batch_command(BecomeSpec(True, method="su"), "id") == "su root -c id </dev/null"


@pytest.mark.parametrize(("text", "count"), [
    ("Password: ", 1), ("root's Password:", 1), ("Passwort: ", 1), ("Mot de passe : ", 1), ("密码：", 1),
    ("Password: \r\nsu: Authentication failure\r\n", 1), ("", 0), ("hostprep-start-1234", 0),
])
def test_su_prompts(text: str, count: int) -> None:
    assert METHODS["su"].prompts(text) == count


def test_refusals_and_prompt_stripping() -> None:
    su, sudo = METHODS["su"], METHODS["sudo"]
    assert su.refused("Password: \r\nsu: Authentication failure\r\n", 1)
    assert not su.refused("Password: \r\n", 1)
    assert sudo.refused(f"{SUDO_PROMPT}\nSorry, try again.\n{SUDO_PROMPT}", 2)
    assert not sudo.refused(f"{SUDO_PROMPT}\n", 1)
    assert su.strip_prompts("Password: \r\nsu: Authentication failure") == "su: Authentication failure"
    assert sudo.strip_prompts(f"{SUDO_PROMPT}\nerr") == "err"
    assert sudo.tty_required("sudo: sorry, you must have a tty to run sudo")


@pytest.mark.parametrize("value", ["runas", "pbrun", "doas", "machinectl", "nonsense"])
def test_methods_hostprep_cannot_do_are_refused(value: str) -> None:
    assert "hostprep supports: sudo, su" in (method_error(value) or "")
    with pytest.raises(InputError, match="become_method"):
        method_for(BecomeSpec(True, method=value))
    with pytest.raises(InputError, match="become_method"):
        become_from_vars({"ansible_become": True, "ansible_become_method": value})
    with pytest.raises(InputError, match=f"host h1: become_method '{value}'"):
        check_host("h1", {"ansible_become_method": value})


def test_templates_and_supported_methods_pass_the_load_check() -> None:
    assert method_error("sudo") is None and method_error("su") is None and method_error(None) is None
    assert method_error("{{ my_method }}") is None  # decided per host when the task is prepared


def test_become_method_from_the_command_line_is_the_lowest_precedence() -> None:
    cli = ConnectionOptions(become=True, become_method="su", become_password="rootpw")
    assert become_from_vars({}, cli=cli).method == "su"
    assert become_from_vars({"ansible_become_method": "sudo"}, cli=cli).method == "sudo"
    with pytest.raises(InputError):
        check_host("h", {}, ConnectionOptions(forced={"ansible_become_method": "ksu"}))


def test_probe_batch_stops_before_a_segment_that_needs_a_terminal() -> None:
    reqs = [ProbeRequest("echo a"), ProbeRequest("echo b", BecomeSpec(True, method="su", password="p")),
            ProbeRequest("echo c", BecomeSpec(True, password="sudo-pw"))]
    script, stdin = build_batch(reqs)
    assert "echo a" in script and "echo b" not in script and "echo c" not in script
    assert stdin == b""  # no password is sent for segments that do not run
    script, stdin = build_batch([ProbeRequest("echo b", BecomeSpec(True, method="su"))])
    assert script.startswith("su root -c ") and "</dev/null" in script


def test_each_methods_own_variables_as_in_ansibles_plugins() -> None:
    spec = become_from_vars({"ansible_become": True, "ansible_become_method": "su", "ansible_su_user": "app",
                             "ansible_su_pass": "p", "ansible_su_flags": "-l", "ansible_su_exe": "/bin/su"})
    assert (spec.user, spec.password, spec.flags, spec.exe) == ("app", "p", "-l", "/bin/su")
    assert method_for(spec).command(spec, "id", tty=True) == "/bin/su -l app -c id"
    # ansible_become_X, then ansible_<method>_X: the last one set wins, as in Ansible's option lists
    spec = become_from_vars({"ansible_become": True, "ansible_become_password": "a", "ansible_sudo_pass": "b",
                             "ansible_sudo_exe": "/opt/bin/sudo"})
    assert spec.password == "b"
    assert method_for(spec).command(spec, "id", tty=False).startswith("/opt/bin/sudo -H -S ")
    # the other method's variables are not read
    assert become_from_vars({"ansible_su_pass": "x"}).password is None
    # a host's own method password beats -K
    cli = ConnectionOptions(become_password="from-K", become_method="su")
    assert become_from_vars({"ansible_su_password": "host"}, cli=cli).password == "host"
    assert become_from_vars({}, cli=cli).password == "from-K"


def test_su_localised_prompts_from_ansible_su_prompt_l10n() -> None:
    spec = become_from_vars({"ansible_become_method": "su", "ansible_su_prompt_l10n": ["Kennwort", "Salasana"]})
    method = method_for(spec)
    assert method.prompts("Kennwort: ") == 1 and method.prompts("Salasana:") == 1
    assert method.prompts("Password: ") == 0  # only the words given, as Ansible's prompt_l10n
    assert METHODS["su"].prompts("Password: ") == 1  # the default list is untouched
