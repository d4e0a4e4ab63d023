"""rpm_key: import (or remove) a GPG key into the RPM database, checking its fingerprint."""

from __future__ import annotations

import re
from typing import Any

from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q, sections

KEY_ID = re.compile(r"^(0x)?([0-9A-Fa-f]{8}|[0-9A-Fa-f]{16}|[0-9A-Fa-f]{40})$")


def is_key_id(key: str) -> bool:
    """A key id (short, long or a whole fingerprint) names an already-imported key."""
    return bool(KEY_ID.match(key.strip().replace(" ", "")))


def parse_installed(text: str) -> set[str]:
    """Short key ids (lower case) of the gpg-pubkey packages rpm lists as VERSION-RELEASE lines."""
    return {line.split("-")[0].lower() for line in text.split() if re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]+", line)}


def parse_fingerprints(colons: str) -> list[str]:
    """Fingerprints of a key from `gpg --with-colons` output, primary key first."""
    return [line.split(":")[9].upper() for line in colons.splitlines() if line.startswith("fpr:")]


class RpmKeyModule(Module):
    reports_command_output = False
    name = "rpm_key"
    doc = ("Import a key (URL, file on the host, or inline armored text) with rpm --import, after checking "
           "its fingerprint when one is given; already-imported keys (by key id) are left alone.")
    examples = ("- rpm_key:\n    key: https://download.docker.com/linux/centos/gpg\n"
                "    fingerprint: 060A 61C5 1B55 8A7F 742B 77AA C52F EB6B 621E 9F35\n")
    gives_diff = False  # Ansible's rpm_key has no diff support: --diff shows and registers none
    args = {
        "key": Arg("str", required=True, doc="URL, host path, or ASCII-armored key text."),
        "state": Arg("str", default="present", choices=("present", "absent")),
        "fingerprint": Arg("list", elements="str", doc="Expected fingerprint(s); spaces are ignored."),
        "validate_certs": Arg("bool", default=True),
    }

    def _fetch(self, args: dict[str, Any]) -> str:
        key = args["key"]
        insecure = "" if args["validate_certs"] else "-k "
        if key.lstrip().startswith("-----BEGIN PGP"):
            return f"printf '%s\\n' {q(key)} > \"$k\""
        if "://" in key:
            return (f"(curl -fsSL {insecure}{q(key)} -o \"$k\" 2>/dev/null || wget -q -O \"$k\" {q(key)}) "
                    f"|| echo fetch-failed")
        return f"cp {q(key)} \"$k\" 2>/dev/null || echo missing-file"

    def probe(self, args: dict[str, Any]) -> str | None:
        if is_key_id(args["key"]):
            return ("echo '@@hostprep:installed@@'; "
                    "rpm -q gpg-pubkey --qf '%{VERSION}-%{RELEASE}\\n' 2>/dev/null | grep -v 'not installed' || true")
        # a subshell keeps the temp file, its trap and $k away from other probes batched with this one
        return "(\n" + "\n".join([
            'k=$(mktemp); trap \'rm -f "$k"\' EXIT',
            "echo '@@hostprep:fetch@@'",
            self._fetch(args),
            "echo '@@hostprep:key@@'",
            'gpg --batch --with-colons --show-keys "$k" 2>/dev/null | grep -E "^(fpr|pub):" || '
            'gpg --batch --with-colons --with-fingerprint "$k" 2>/dev/null | grep -E "^(fpr|pub):"',
            "echo '@@hostprep:installed@@'",
            "rpm -q gpg-pubkey --qf '%{VERSION}-%{RELEASE}\\n' 2>/dev/null | grep -v 'not installed' || true",
        ]) + "\n)"

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        sec = sections(probe.stdout if probe else "")
        installed = parse_installed(sec.get("installed", ""))
        if is_key_id(args["key"]):
            keyid = args["key"].strip().replace(" ", "").lower().removeprefix("0x")[-8:]
            if args["state"] == "present":
                if keyid in installed:
                    return Plan(False)
                return Plan(failed=True,
                            msg=f"key id {args['key']} is not imported; give a URL, path or armored key to import it")
            if keyid in installed:
                return Plan(True, [Command(f"rpm -e --allmatches gpg-pubkey-{keyid}")],
                            diff={"before": f"gpg-pubkey-{keyid}: present\n", "after": f"gpg-pubkey-{keyid}: absent\n"})
            return Plan(False)
        if "fetch-failed" in sec.get("fetch", "") or "missing-file" in sec.get("fetch", ""):
            return Plan(failed=True, msg=f"could not read the key {args['key']}")
        fprs = parse_fingerprints(sec.get("key", ""))
        if not fprs:
            return Plan(failed=True, msg=f"{args['key']} is not a GPG public key")
        primary = fprs[0].upper()
        keyid = primary[-8:].lower()
        result: dict[str, Any] = {}  # Ansible's rpm_key result is `changed` alone
        if args["state"] == "absent":
            if keyid in installed:
                return Plan(True, [Command(f"rpm -e --allmatches gpg-pubkey-{keyid}")], result=result,
                            diff={"before": f"gpg-pubkey-{keyid}: present\n", "after": f"gpg-pubkey-{keyid}: absent\n"})
            return Plan(False, result=result)
        if keyid in installed:  # as Ansible: an imported key is not checked against `fingerprint` again
            return Plan(False, result=result)
        if args.get("fingerprint"):
            wanted = {f.replace(" ", "").upper() for f in args["fingerprint"]}
            have = {f.upper() for f in fprs}
            if not wanted <= have:
                return Plan(failed=True, result=result,
                            msg=f"The specified fingerprint, '{wanted}', does not match any key fingerprints in "
                                f"'{have}'")
        # import from a fresh copy checked again against the fingerprint the probe saw, so a key that
        # changes between probe and import (a swapped URL) is never trusted
        check = (f"gpg --batch --with-colons --show-keys \"$k\" 2>/dev/null | grep -qi '^fpr:*:{primary}:' || "
                 f"{{ echo 'the key changed since it was checked (fingerprint {primary} expected)' >&2; exit 1; }}")
        cmd = f"k=$(mktemp); trap 'rm -f \"$k\"' EXIT; {self._fetch(args)}; {check}; rpm --import \"$k\""
        return Plan(True, [Command(cmd)], result=result,
                    diff={"before": f"gpg-pubkey-{keyid}: absent\n", "after": f"gpg-pubkey-{keyid}: present\n"})

