"""authorized_key (ansible.posix): add or remove SSH public keys in a user's authorized_keys."""

from __future__ import annotations

import base64
import posixpath
import re
import shlex
import urllib.request
from typing import Any

from hostprep.modules._files import PATH_INFO, path_info_after, with_path_info
from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext, Upload
from hostprep.modules.shellutil import q, sections, stat_snippet

KEY_TYPES = ("sk-ecdsa-sha2-nistp256@openssh.com", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
             "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "ssh-ed25519", "ssh-dss", "ssh-rsa")
Key = tuple  # (key, type, options, comment, rank); type 'skipped' for lines kept as they are


def parse_options(text: str | None) -> list[tuple[str, str | None]]:
    """`no-pty,from="a,b"` -> [(no-pty, None), (from, '"a,b"')], commas inside quotes kept."""
    out: list[tuple[str, str | None]] = []
    if text:
        for part in re.compile(r"""((?:[^,"']|"[^"]*"|'[^']*')+)""").split(text)[1:-1]:
            if "=" in part:
                k, v = part.split("=", 1)
                out.append((k, v))
            elif part != ",":
                out.append((part, None))
    return out


def parse_key(raw: str, rank: int) -> Key | None:
    """A key line as Ansible reads it (None: no key type found)."""
    raw = raw.replace(r"\#", "#")
    lex = shlex.shlex(raw)
    lex.quotes, lex.commenters, lex.whitespace_split = [], "", True  # type: ignore[assignment]
    parts = list(lex)
    if parts and parts[0] == "#":
        return (raw, "skipped", None, None, rank)
    index = next((i for i, p in enumerate(parts) if p in KEY_TYPES), None)
    if index is None or index + 1 >= len(parts):
        return None
    options = parse_options(" ".join(parts[:index]) if index > 0 else None)
    return (parts[index + 1], parts[index], options, " ".join(parts[index + 2:]), rank)


def parse_keys(text: str) -> dict[str, Key]:
    keys: dict[str, Key] = {}
    for rank, line in enumerate(text.splitlines(True)):
        parsed = parse_key(line, rank)
        keys[parsed[0] if parsed else line] = parsed or (line, "skipped", None, None, rank)
    return keys


def serialize(keys: dict[str, Key]) -> str:
    lines = []
    for key, kind, options, comment, _rank in sorted(keys.values(), key=lambda k: k[4]):
        if kind == "skipped":
            lines.append(key)
            continue
        opts = ",".join(k if v is None else f"{k}={v}" for k, v in options or [])
        lines.append(f"{opts + ' ' if opts else ''}{kind} {key} {comment}\n")
    return "".join(lines)


def edit_keys(existing: str, args: dict[str, Any]) -> tuple[str, bool]:
    """The new authorized_keys text and whether it must be written (Ansible's enforce_state)."""
    keys = parse_keys(existing)
    wanted = [s for s in args["key"].splitlines() if s and not s.startswith("#")]
    top = len(keys)
    keep: list[str] = []
    write = False
    for rank, line in enumerate(wanted):
        new = parse_key(line, rank)
        if not new or new[1] == "skipped":
            raise ValueError(f"invalid key specified: {line}")
        if args.get("key_options") is not None:
            new = (new[0], new[1], parse_options(args["key_options"]), new[3], new[4])
        if args.get("comment") is not None:
            new = (new[0], new[1], new[2], args["comment"], new[4])
        matched = False
        if new[0] in keys:
            if new[:4] != keys[new[0]][:4] and args["state"] == "present":
                del keys[new[0]]
                write = True
            else:
                matched = True
        if args["state"] == "present":
            keep.append(new[0])
            if not matched:
                keys[new[0]] = (*new[:4], top + new[4])
                write = True
        elif matched:
            del keys[new[0]]
            write = True
    if args["state"] == "present" and args["exclusive"]:
        for k in set(keys) - set(keep):
            del keys[k]
            write = True
    return serialize(keys), write


PROBE = r"""ent=$(getent passwd {user}) || {{ echo '@@hostprep:nouser@@'; exit 0; }}
home=$(printf %s "$ent" | cut -d: -f6); uid=$(printf %s "$ent" | cut -d: -f3); gid=$(printf %s "$ent" | cut -d: -f4)
f={path}; [ -n "$f" ] || f="$home/.ssh/authorized_keys"
[ {follow} = yes ] && [ -e "$f" ] && f=$(readlink -f "$f")
gname=$(getent group "$gid" | cut -d: -f1)
echo '@@hostprep:user@@'; echo "uid=$uid"; echo "gid=$gid"; echo "group=${gname:-$gid}"; echo "file=$f"
echo '@@hostprep:content@@'; [ -f "$f" ] && base64 < "$f"; true"""


def _probe_with_stat(args: dict[str, Any], text: str) -> str:
    """With `path` the result carries the file's path info (Ansible adds it for a result's `path`): its stat."""
    if not args.get("path"):
        return text
    return f"{text}\necho '@@hostprep:{PATH_INFO}@@'\n{stat_snippet(args['path'], False)}"


class AuthorizedKeyModule(Module):
    name = "authorized_key"
    collection = "ansible.posix"
    doc = ("Add or remove SSH public keys (one or many, or from an http(s) URL) in a user's ~/.ssh/authorized_keys "
           "or path; exclusive removes all others; key_options and comment are set on the keys given.")
    examples = ("- ansible.posix.authorized_key:\n    user: deploy\n"
                "    key: \"{{ lookup('file', 'files/deploy.pub') }}\"\n"
                "    key_options: 'no-port-forwarding,from=\"10.0.0.0/8\"'\n")
    args = {
        "user": Arg("str", required=True, doc="Whose authorized_keys (also its owner)."),
        "key": Arg("str", required=True, no_log=False, doc="Public key line(s), or an http(s) URL of them."),
        "path": Arg("path", doc="Keys file (default ~user/.ssh/authorized_keys)."),
        "manage_dir": Arg("bool", default=True, doc="Create the key file's directory, mode 0700, owned by user."),
        "state": Arg("str", default="present", choices=("absent", "present")),
        "key_options": Arg("str", doc="Options put before the key (from=..., no-pty, ...)."),
        "exclusive": Arg("bool", default=False, doc="Remove every other key."),
        "comment": Arg("str", doc="Replace the keys' comment."),
        "validate_certs": Arg("bool", default=True),
        "follow": Arg("bool", default=False, doc="Follow a symlinked key file."),
    }

    def probe(self, args: dict[str, Any]) -> str | None:
        text = (PROBE.replace("{user}", q(args["user"])).replace("{path}", q(args.get("path") or ""))
                .replace("{follow}", "yes" if args["follow"] else "no").replace("{{", "{").replace("}}", "}"))
        return _probe_with_stat(args, text)

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        sec = sections(probe.stdout if probe else "")
        result = {k: args.get(k) for k in self.args}
        if "nouser" in sec:
            if ctx.check_mode and not args.get("path"):
                return Plan(failed=True, msg="Either user must exist or you must provide full path to key file in "
                                             "check mode")
            return Plan(failed=True, msg=f"Failed to lookup user {args['user']}: \"getpwnam(): name not found: "
                                         f"'{args['user']}'\"")
        info = dict(line.split("=", 1) for line in sec.get("user", "").splitlines() if "=" in line)
        keyfile = info.get("file", "")
        raw = sec.get("content", "").strip()
        existing = base64.b64decode(raw).decode() if raw else ""
        key = args["key"]
        if key.startswith("http"):
            try:
                with urllib.request.urlopen(key, timeout=30) as resp:  # noqa: S310 - Ansible fetches key URLs
                    if resp.status != 200:
                        raise OSError(resp.status)
                    key = resp.read().decode()
            except Exception:  # noqa: BLE001 - Ansible's message for any fetch error
                return Plan(failed=True, msg=f"Error getting key from: {key}")
        try:
            after, write = edit_keys(existing, {**args, "key": key})
        except ValueError as exc:
            return Plan(failed=True, msg=str(exc))
        result["keyfile"] = keyfile
        if not write:
            if args.get("path"):
                result.update(path_info_after([probe]) or {"state": "absent"})
            return Plan(False, result=result)
        uid, gid = info.get("uid", ""), info.get("gid", "")
        steps: list[Any] = []
        sshdir = posixpath.dirname(keyfile)
        if args["manage_dir"]:
            steps.append(Command(f"[ -d {q(sshdir)} ] || mkdir -m 0700 {q(sshdir)}; "
                                 f"chown {uid}:{gid} {q(sshdir)} && chmod 0700 {q(sshdir)}"))
        else:
            steps.append(Command(f"mkdir -p {q(sshdir)}"))
        steps.append(Upload(after.encode(), keyfile, mode="0600", owner=args["user"], group=info.get("group") or gid))
        diff = {"before_header": keyfile, "after_header": keyfile, "before": existing, "after": after}
        if args.get("path"):
            steps = with_path_info(steps, keyfile)
            if ctx.check_mode:
                result.update(path_info_after([probe]) or {"state": "absent"})
        return Plan(True, steps, diff=diff, result=result)

    def finish(self, args: dict[str, Any], plan: Plan, outputs: list, ctx: TaskContext) -> dict:
        result = dict(plan.result)
        result.update(path_info_after(outputs) or {})
        return result
