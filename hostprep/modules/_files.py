"""Shared logic of file modules: stat probes, modes (octal and symbolic), attribute changes."""

from __future__ import annotations

import re
import stat as st
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules.base import Arg, Command
from hostprep.modules.shellutil import parse_kv_lines, q, sections, stat_snippet

FILE_ARGS = {
    "mode": Arg("mode", doc="Permissions, octal (0644) or symbolic (u=rw,g=r,o=r); keep it quoted in YAML."),
    "owner": Arg("str", doc="Owner (name or uid)."),
    "group": Arg("str", doc="Group (name or gid)."),
}


def parse_stat(text: str) -> dict[str, Any]:
    kv = parse_kv_lines(text)
    kind = kv.get("kind", "absent")
    if kind == "absent":
        return {"exists": False, "kind": "absent"}
    out: dict[str, Any] = {"exists": True, "kind": kind}
    for key in ("uid", "gid", "size", "mtime", "atime", "inode", "dev", "nlink"):
        if key in kv:
            out[key] = int(kv[key])
    out["mode"] = kv.get("mode", "0").zfill(4)
    out["owner"] = kv.get("owner")
    out["group"] = kv.get("group")
    if "target" in kv:
        out["target"] = kv["target"]
    if "sha1" in kv:
        out["checksum"] = kv["sha1"]
    return out


def stat_probe(paths: dict[str, str], checksum: bool = True) -> str:
    parts = []
    for name, path in paths.items():
        parts.append(f"echo '@@hostprep:{name}@@'")
        parts.append(stat_snippet(path, checksum))
    return "\n".join(parts)


def stats_from(stdout: str) -> dict[str, dict[str, Any]]:
    return {name: parse_stat(text) for name, text in sections(stdout).items()}


_SYMBOLIC = re.compile(r"^([ugoa]*)([-+=])([rwxXstugo]*)$")


def target_mode(spec: str | None, current: int, is_dir: bool) -> int | None:
    """The permission bits wanted by `spec` given the current ones (None: leave as is)."""
    if spec is None or spec == "preserve":
        return None
    spec = str(spec).strip()
    if re.fullmatch(r"[0-7]{1,4}", spec):
        return int(spec, 8)
    mode = current & 0o7777
    for clause in spec.split(","):
        m = _SYMBOLIC.match(clause)
        if not m:
            raise ModuleArgError(f"mode {spec!r} is neither octal nor symbolic (e.g. u=rw,g=r,o=r)", key="mode")
        who, op, perms = m.groups()
        who = who or "a"
        if "a" in who:
            who = "ugo"
        bits = 0
        for w in who:
            shift = {"u": 6, "g": 3, "o": 0}[w]
            for p in perms:
                if p == "r":
                    bits |= 4 << shift
                elif p == "w":
                    bits |= 2 << shift
                elif p == "x" or (p == "X" and (is_dir or current & 0o111)):
                    bits |= 1 << shift
                elif p == "s":
                    bits |= st.S_ISUID if w == "u" else (st.S_ISGID if w == "g" else 0)
                elif p == "t":
                    bits |= st.S_ISVTX
        mask = 0
        for w in who:
            shift = {"u": 6, "g": 3, "o": 0}[w]
            mask |= 7 << shift
            mask |= st.S_ISUID if w == "u" else (st.S_ISGID if w == "g" else 0)
        if op == "+":
            mode |= bits
        elif op == "-":
            mode &= ~bits
        else:
            mode = (mode & ~mask) | bits
    return mode


def attribute_steps(path: str, cur: dict[str, Any], mode: Any, owner: str | None, group: str | None,
                    follow: bool = True) -> tuple[list[Command], dict[str, Any], dict[str, Any]]:
    """Commands that bring mode/owner/group to the wanted values, and before/after for the diff."""
    steps: list[Command] = []
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    current_mode = int(cur.get("mode", "0644"), 8) if cur.get("exists") else 0o644
    want = target_mode(mode, current_mode, cur.get("kind") == "directory")
    if want is not None and (not cur.get("exists") or want != current_mode):
        steps.append(Command(f"chmod {format(want, '04o')} {q(path)}"))
        before["mode"], after["mode"] = format(current_mode, "04o"), format(want, "04o")
    if owner is not None and not (cur.get("owner") == owner or str(cur.get("uid")) == str(owner)):
        steps.append(Command(f"chown {'-h ' if not follow else ''}{q(str(owner))} {q(path)}"))
        before["owner"], after["owner"] = cur.get("owner"), owner
    if group is not None and not (cur.get("group") == group or str(cur.get("gid")) == str(group)):
        steps.append(Command(f"chgrp {'-h ' if not follow else ''}{q(str(group))} {q(path)}"))
        before["group"], after["group"] = cur.get("group"), group
    return steps, before, after


def ids_probe(owner: Any, group: Any) -> str:
    """A probe section with the ids of an owner and group given by name (Ansible's file attribute diff shows ids)."""
    lines = ["echo '@@hostprep:ids@@'"]
    if owner is not None and not str(owner).isdigit():
        lines.append(f"echo uid=$(id -u {q(str(owner))} 2>/dev/null)")
    if group is not None and not str(group).isdigit():
        lines.append(f"echo gid=$(getent group {q(str(group))} 2>/dev/null | cut -d: -f3)")
    return "\n".join(lines)


def numeric_owner_diff(before: dict[str, Any], after: dict[str, Any], cur: dict[str, Any],
                       ids_text: str) -> None:
    """owner/group in a file attribute diff as Ansible's set_owner/group_if_different give them: the ids
    (before: the path's; after: the id the name resolves to, read by ids_probe), names only when unresolved."""
    ids = parse_kv_lines(ids_text)
    for key, id_key, name_key in (("owner", "uid", "uid"), ("group", "gid", "gid")):
        if key in after:
            if cur.get(id_key) is not None:
                before[key] = cur[id_key]
            want = str(after[key])
            if want.isdigit():
                after[key] = int(want)
            elif (ids.get(name_key) or "").isdigit():
                after[key] = int(ids[name_key])


def file_result(path: str, cur: dict[str, Any], changed_attrs: dict[str, Any], state: str) -> dict[str, Any]:
    out = {"path": path, "state": state}
    if cur.get("exists"):
        out.update(mode=cur.get("mode"), owner=cur.get("owner"), group=cur.get("group"), uid=cur.get("uid"),
                   gid=cur.get("gid"), size=cur.get("size"))
    out.update(changed_attrs)
    return out


PATH_INFO = "pathinfo"


def path_info(cur: dict[str, Any]) -> dict[str, Any]:
    """The path's fields of a file-module result as Ansible's add_path_info gives them (lstat of the path)."""
    if not cur.get("exists"):
        return {}
    kind = cur.get("kind")
    state = kind if kind in ("link", "directory") else ("hard" if (cur.get("nlink") or 1) > 1 else "file")
    return {"uid": cur.get("uid"), "gid": cur.get("gid"), "owner": cur.get("owner"), "group": cur.get("group"),
            "mode": "0%03o" % (int(cur.get("mode") or "0", 8) & 0o7777), "state": state, "size": cur.get("size")}


def with_path_info(steps: list[Any], path: str) -> list[Any]:
    """The steps with the path's stat printed after the last one, for the result's fields after the change.

    A last Command carries the stat itself (no extra round trip); after an Upload it is a step of its own.
    """
    snippet = f"echo '@@hostprep:{PATH_INFO}@@'\n{stat_snippet(path, False)}"
    if steps and isinstance(steps[-1], Command) and steps[-1].check_rc:
        last = steps[-1]
        return [*steps[:-1], Command(f"{{ {last.cmd}\n}} && {{\n{snippet}\n}}", become=last.become, stdin=last.stdin,
                                     env=last.env, no_log=last.no_log)]
    return [*steps, Command(snippet, check_rc=False, reads_only=True)]


def path_info_after(outputs: list[Any]) -> dict[str, Any] | None:
    """The path's fields as printed by the steps of `with_path_info`, or None when they did not run."""
    for res in reversed(outputs):
        text = sections(res.stdout).get(PATH_INFO)
        if text is not None:
            return path_info(parse_stat(text))
    return None
