"""find: list files on the host matching patterns, age, size, type and content (read-only).

The probe lists every entry below the paths with GNU find's -printf (one line each); the filters
run on the controller with Ansible's rules. Only `contains` and `get_checksum` need a second,
read-only look at the files that passed the other filters.
"""

from __future__ import annotations

import base64
import fnmatch
import re
import stat as st
import time
from typing import Any

from hostprep.modules.base import Arg, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q, sections

FIELDS = "%y\\t%m\\t%s\\t%U\\t%G\\t%u\\t%g\\t%i\\t%D\\t%n\\t%A@\\t%T@\\t%C@\\t%d\\t%p\\n"
KIND = {"f": "reg", "d": "dir", "l": "lnk", "c": "chr", "b": "blk", "p": "fifo", "s": "sock"}
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
BYTES = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def _with_unit(text: str | None, units: dict[str, int], what: str) -> int | None:
    """'-2d' -> -172800 with units {suffix: factor}; the first unit is the default."""
    if text is None:
        return None
    m = re.match(rf"^(-?\d+)([{''.join(units)}])?$", text.lower())
    if not m:
        raise ValueError(f"failed to process {what}")
    return int(m.group(1)) * units[m.group(2) or next(iter(units))]


def parse_age(text: str | None) -> int | None:
    return _with_unit(text, SECONDS, "age")


def parse_size(text: str | None) -> int | None:
    return _with_unit(text, BYTES, "size")


def name_matches(name: str, patterns: list[str], excludes: list[str] | None, use_regex: bool) -> bool:
    """Ansible's pfilter: a pattern must match (re.match or fnmatch), and then no exclude."""
    hit = (lambda p: re.match(p, name) is not None) if use_regex else (lambda p: fnmatch.fnmatch(name, p))
    if not any(hit(p) for p in patterns):
        return False
    return not any(hit(e) for e in (excludes or []))


def parse_entries(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        parts = line.split("\t", 14)
        if len(parts) != 15:
            continue
        kind, mode, size, uid, gid, user, group, ino, dev, nlink, at, mt, ct, depth, path = parts
        bits = int(mode, 8)
        info: dict[str, Any] = {"path": path, "mode": format(bits & 0o7777, "04o")}
        for k in KIND.values():
            info[f"is{k}"] = KIND.get(kind) == k
        info.update(uid=int(uid), gid=int(gid), size=int(size), inode=int(ino), dev=int(dev), nlink=int(nlink),
                    atime=float(at), mtime=float(mt), ctime=float(ct), gr_name=group, pw_name=user)
        for who, shift in (("usr", 6), ("grp", 3), ("oth", 0)):
            for letter, bit in (("r", 4), ("w", 2), ("x", 1)):
                info[f"{letter}{who}"] = bool(bits & (bit << shift))
        info.update(isuid=bool(bits & st.S_ISUID), isgid=bool(bits & st.S_ISGID))
        info["_depth"] = int(depth)
        out.append(info)
    return out


class FindModule(Module):
    name = "find"
    doc = ("Return the files (or directories, links) below paths that match patterns/excludes (globs, or Python "
           "regexps with use_regex), age, size, contains, hidden, depth: `files`, `matched`, `examined`.")
    examples = ("- find:\n    paths: /var/log\n    patterns: '*.log'\n    age: 2d\n    recurse: true\n"
                "  register: old_logs\n")
    args = {
        "paths": Arg("list", required=True, elements="path", aliases=("name", "path")),
        "patterns": Arg("list", elements="str", default=[], aliases=("pattern",),
                        doc="Basename globs (or regexps with use_regex); any may match."),
        "excludes": Arg("list", elements="str", aliases=("exclude",)),
        "contains": Arg("str", doc="A Python regexp a line must match (from its start) for files."),
        "read_whole_file": Arg("bool", default=False, doc="Search contains in the whole file instead."),
        "file_type": Arg("str", default="file", choices=("any", "directory", "file", "link")),
        "age": Arg("str", doc="Older than (or, negative, younger than): 30s, 10m, 2h, 1d, 1w."),
        "age_stamp": Arg("str", default="mtime", choices=("atime", "ctime", "mtime")),
        "size": Arg("str", doc="At least (or, negative, at most): 10, 5k, 1m, 2g."),
        "recurse": Arg("bool", default=False),
        "hidden": Arg("bool", default=False, doc="Include names starting with a dot."),
        "follow": Arg("bool", default=False, doc="Follow symlinks."),
        "get_checksum": Arg("bool", default=False),
        "checksum_algorithm": Arg("str", default="sha1", aliases=("checksum", "checksum_algo"),
                                  choices=("md5", "sha1", "sha224", "sha256", "sha384", "sha512")),
        "use_regex": Arg("bool", default=False),
        "depth": Arg("int", doc="How deep to recurse (1: the paths' own entries)."),
        "encoding": Arg("str"),
        "limit": Arg("int", doc="Stop after this many matches."),
    }

    def probe(self, args: dict[str, Any]) -> str | None:
        parts = []
        for i, path in enumerate(args["paths"]):
            depth = "-maxdepth 1" if not args["recurse"] else (f"-maxdepth {args['depth']}" if args["depth"] else "")
            follow = "-L " if args["follow"] else ""
            parts.append(f"echo '@@hostprep:p{i}@@'\nif [ -d {q(path)} ]; then find {follow}{q(path)} -mindepth 1 "
                         f"{depth} -printf '{FIELDS}' 2>/dev/null; else echo MISSING; fi")
        return "\n".join(parts)

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        try:
            age, size = parse_age(args.get("age")), parse_size(args.get("size"))
        except ValueError as exc:
            return Plan(failed=True, msg=str(exc), result={"age": args.get("age"), "size": args.get("size")})
        if args.get("limit") is not None and args["limit"] <= 0:
            return Plan(failed=True, msg=f"limit cannot be {args['limit']} (use None for unlimited)")
        patterns = args["patterns"] or ([".*"] if args["use_regex"] else ["*"])
        sec = sections(probe.stdout if probe else "")
        now = time.time()
        files: list[dict[str, Any]] = []
        skipped: dict[str, str] = {}
        examined = 0
        want = args["file_type"]
        for i, root in enumerate(args["paths"]):
            text = sec.get(f"p{i}", "")
            if text.strip() == "MISSING":
                skipped[root] = f"'{root}' is not a directory"
                continue
            entries = parse_entries(text)
            examined += len(entries)
            for e in entries:
                name = e["path"].rsplit("/", 1)[-1]
                if name.startswith(".") and not args["hidden"]:
                    continue
                if want == "file" and not e["isreg"] or want == "directory" and not e["isdir"] \
                        or want == "link" and not e["islnk"]:
                    continue
                if not name_matches(name, patterns, args.get("excludes"), args["use_regex"]):
                    continue
                if age is not None:
                    elapsed = now - e[args["age_stamp"]]
                    if not (elapsed >= abs(age) if age >= 0 else elapsed <= abs(age)):
                        continue
                if size is not None and e["isreg"] and want in ("file", "any") \
                        and not (e["size"] >= abs(size) if size >= 0 else e["size"] <= abs(size)):
                    continue
                files.append(e)
        if args.get("contains") is not None and want == "file":
            files = self._with_content(files, args, ctx)
        if args.get("limit"):
            files = files[:args["limit"]]
        if args["get_checksum"]:
            self._checksums(files, args["checksum_algorithm"], ctx)
        for e in files:
            e.pop("_depth", None)
        msg = "Not all paths examined, check warnings for details" if skipped else "All paths examined"
        if args.get("limit") and len(files) == args["limit"]:
            msg = "Limit of matches reached"
        return Plan(False, result={"files": files, "matched": len(files), "examined": examined, "msg": msg,
                                   "skipped_paths": skipped})

    def _with_content(self, files: list[dict[str, Any]], args: dict[str, Any], ctx: TaskContext) -> list:
        if not files:
            return files
        script = "\n".join(f"echo '@@hostprep:f{i}@@'; base64 < {q(e['path'])} 2>/dev/null" for i, e in
                           enumerate(files))
        sec = sections(ctx.probe(script).stdout)
        prog = re.compile(args["contains"])
        kept = []
        for i, e in enumerate(files):
            text = base64.b64decode(sec.get(f"f{i}", "").strip() or b"").decode(args.get("encoding") or "utf-8",
                                                                                   "replace")
            if args["read_whole_file"]:
                hit = prog.search(text) is not None
            else:
                hit = any(prog.match(line) for line in text.splitlines(keepends=True))
            if hit:
                kept.append(e)
        return kept

    def _checksums(self, files: list[dict[str, Any]], algo: str, ctx: TaskContext) -> None:
        regular = [e for e in files if e["isreg"]]
        if not regular:
            return
        script = "\n".join(f"echo '@@hostprep:f{i}@@'; {algo}sum < {q(e['path'])} 2>/dev/null | cut -d' ' -f1"
                           for i, e in enumerate(regular))
        sec = sections(ctx.probe(script).stdout)
        for i, e in enumerate(regular):
            e["checksum"] = sec.get(f"f{i}", "").strip()
