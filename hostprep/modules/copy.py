"""copy: put content or controller files on the host, atomically, only when they differ."""

from __future__ import annotations

import hashlib
import os
import posixpath
import time
from pathlib import Path
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules._files import (
    FILE_ARGS,
    attribute_steps,
    path_info,
    path_info_after,
    stat_probe,
    stats_from,
    target_mode,
    with_path_info,
)
from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext, Upload
from hostprep.modules.shellutil import q
from hostprep.vault import files as vault_files

MAX_DIFF = 256 * 1024


class CopyModule(Module):
    name = "copy"
    doc = ("Copy a controller file (src, from the role's files/ first), a directory, or inline content to dest. "
           "Written atomically (temp file, then rename), only when the checksum differs.")
    examples = ("- copy:\n    content: '{{ docker_daemon_config | to_nice_json }}'\n    dest: /etc/docker/daemon.json\n"
                "    mode: '0644'\n- copy:\n    src: motd\n    dest: /etc/motd\n    backup: true\n")
    args = {
        "src": Arg("path", doc="Controller path (role files/, playbook files/), or a host path with remote_src."),
        "content": Arg("str", no_log=False, doc="Text to write instead of src."),
        "dest": Arg("path", required=True, doc="Destination path (a trailing / means a directory)."),
        "backup": Arg("bool", default=False, doc="Keep a timestamped copy of the old file."),
        "force": Arg("bool", default=True, doc="Replace a file whose content differs (false: only if absent)."),
        "remote_src": Arg("bool", default=False, doc="src is a path on the host."),
        "validate": Arg("str", doc="Command to check the new file before it replaces dest (%s = the file)."),
        "directory_mode": Arg("mode", doc="Mode of directories created for a directory copy."),
        "checksum": Arg("str", doc="Expected SHA1 of the file (fails if the source differs)."),
        "follow": Arg("bool", default=False),
        "local_follow": Arg("bool", default=True),
        **FILE_ARGS,
    }
    mutually_exclusive = (("src", "content"),)
    required_one_of = (("src", "content"),)

    # -- what to write --------------------------------------------------------------------
    def source_files(self, args: dict[str, Any], ctx: TaskContext | None) -> list[tuple[str, bytes | None]]:
        """(relative dest name or '', data) pairs; data None means copy on the host (remote_src)."""
        if args.get("content") is not None:
            return [("", args["content"].encode())]
        if args["remote_src"]:
            return [("", None)]
        if ctx is None or ctx.find_file is None:
            return [("", None)]
        path = ctx.find_file(args["src"], "files")
        if path.is_dir():
            base = "" if args["src"].endswith("/") else path.name
            out = []
            for root, _dirs, files in os.walk(path):
                for f in sorted(files):
                    full = Path(root) / f
                    out.append((posixpath.join(base, str(full.relative_to(path))), vault_files.read_bytes(full)))
            return out
        return [("", vault_files.read_bytes(path))]  # a vaulted source is copied decrypted, as in Ansible

    def _dest_for(self, args: dict[str, Any], rel: str, dest_kind: str) -> str:
        dest = args["dest"]
        if rel:
            return posixpath.join(dest, rel)
        if args.get("content") is None and (dest.endswith("/") or dest_kind == "directory"):
            return posixpath.join(dest, posixpath.basename(args["src"].rstrip("/")))
        return dest.rstrip("/") if dest != "/" else dest

    def probe(self, args: dict[str, Any]) -> str | None:
        paths = {"dest": args["dest"], "dest_parent": posixpath.dirname(args["dest"].rstrip("/")) or "/"}
        if args.get("src"):
            paths["dest_in_dir"] = posixpath.join(args["dest"], posixpath.basename(args["src"].rstrip("/")))
        if args["remote_src"] and args.get("src"):
            paths["remote_src"] = args["src"]
        return stat_probe(paths)

    # -- plan -----------------------------------------------------------------------------
    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        stats = stats_from(probe.stdout if probe else "")
        dest_stat = stats.get("dest", {"exists": False, "kind": "absent"})
        files = self.source_files(args, ctx)
        if len(files) > 1 or (files and files[0][0]):
            return self._plan_tree(args, files, ctx)
        rel, data = files[0]
        dest = self._dest_for(args, rel, dest_stat.get("kind", "absent"))
        cur = dest_stat if dest == args["dest"].rstrip("/") else stats.get("dest_in_dir", {"exists": False})
        if data is None:  # remote_src
            src_stat = stats.get("remote_src", {"exists": False})
            if not src_stat.get("exists"):
                return Plan(failed=True, msg=f"remote src {args['src']} does not exist")
            want_sum = src_stat.get("checksum")
        else:
            want_sum = hashlib.sha1(data).hexdigest()
        if args.get("checksum") and want_sum != args["checksum"]:
            return Plan(failed=True, msg=f"source checksum {want_sum} does not match checksum {args['checksum']}")
        if cur.get("kind") == "directory":
            return Plan(failed=True, msg=f"{dest} is a directory; add a trailing / to copy into it")
        steps: list[Any] = []
        if not cur.get("exists") and dest_stat.get("kind") != "directory" and probe is not None:
            parent = stats.get("dest_parent", {})
            if args["dest"].endswith("/"):  # `dest: dir/` that is not there yet is made, as Ansible's copy does
                steps.append(Command(f"mkdir -p {q(posixpath.dirname(dest))}"))
            elif "dest_parent" in stats and not parent.get("exists") and not getattr(ctx, "check_mode", False):
                # (not in check mode, as Ansible: the directory may be one a task before this one would make)
                return Plan(failed=True, msg=f"Destination directory {posixpath.dirname(dest) or '/'} does not exist",
                            result={"checksum": want_sum})
        content_changes = not cur.get("exists") or (cur.get("checksum") != want_sum and args["force"])
        diff: Any = None
        # Ansible's copy result: dest, src, md5sum and checksum when the content is written; path and dest when
        # only the file module ran; the path's owner/group/mode/size/state either way; diff [] without --diff
        result: dict[str, Any] = {"dest": dest, "checksum": want_sum, "diff": []}
        if content_changes:
            result["src"] = args.get("src")
            if data is not None:
                result.update(size=len(data), md5sum=hashlib.md5(data).hexdigest())  # noqa: S324 - Ansible's field
            if args["backup"] and cur.get("exists"):
                stamp = time.strftime("%Y-%m-%d@%H:%M:%S")
                result["backup_file"] = dest + "." + str(os.getpid()) + "." + stamp + "~"
                steps.append(Command(f"cp -p {q(dest)} {q(result['backup_file'])}"))
            mode = args.get("mode")
            cur_mode = int(cur.get("mode", "0644"), 8) if cur.get("exists") else 0o644
            want_mode = target_mode(mode, cur_mode, False)
            mode_str = format(want_mode, "04o") if want_mode is not None else None
            if data is None:
                chmod = mode_str or format(cur_mode, "04o")
                steps.append(Command(f"tmp=$(mktemp {q(dest)}.XXXXXX) && cp -p {q(args['src'])} \"$tmp\" && "
                                     f"chmod {chmod} \"$tmp\" && mv -f \"$tmp\" {q(dest)}"))
                if args.get("owner") or args.get("group"):
                    spec = (args.get("owner") or "") + (":" + args["group"] if args.get("group") else "")
                    steps.append(Command(f"chown {q(spec)} {q(dest)}"))
            elif args.get("validate"):
                tmp = f"{dest}.hostprep-new"
                if "%s" not in args["validate"]:
                    raise ModuleArgError("validate must contain %s", key="validate")
                steps.append(Upload(data, tmp, mode=mode_str, owner=args.get("owner"), group=args.get("group")))
                steps.append(Command(args["validate"].replace("%s", q(tmp)) + f" || {{ rm -f {q(tmp)}; exit 1; }}"))
                steps.append(Command(f"mv -f {q(tmp)} {q(dest)}"))
            else:
                steps.append(Upload(data, dest, mode=mode_str, owner=args.get("owner"), group=args.get("group")))
            if ctx.diff and data is not None:
                diff = [self._diff(ctx, dest, cur, data)]
        else:
            attr_steps, before, after = attribute_steps(dest, cur, args.get("mode"), args.get("owner"),
                                                        args.get("group"))
            steps += attr_steps
            # the file module's diff, as Ansible's copy gives when the content is already there
            diff = {"before": {"path": dest, **before}, "after": {"path": dest, **after}}
            result.update(path=dest, **path_info(cur))
        return Plan(bool(steps), with_path_info(steps, dest) if steps else steps, diff=diff, result=result)

    def finish(self, args: dict[str, Any], plan: Plan, outputs: list, ctx: TaskContext) -> dict:
        """The planned result with the destination's owner/group/mode/size/state as they are after the copy."""
        result = dict(plan.result)
        result.update(path_info_after(outputs) or {})
        return result

    def _diff(self, ctx: TaskContext, dest: str, cur: dict[str, Any], data: bytes) -> dict[str, Any]:
        """The content's before/after for --diff (the current file read only when it is small)."""
        before = ""
        if cur.get("exists") and cur.get("size", 0) <= MAX_DIFF:
            try:
                before = ctx.transport.get(dest, become=ctx.become).decode("utf-8", "replace")
            except Exception:  # noqa: BLE001 - a diff must never fail the task
                before = ""
        after = data.decode("utf-8", "replace") if len(data) <= MAX_DIFF else "(large file)"
        # Ansible's copy: a list of one content diff, with a before_header only when the file was there
        return {"before": before, "after": after, **({"before_header": dest} if cur.get("exists") else {}),
                "after_header": dest}

    def _plan_tree(self, args: dict[str, Any], files: list[tuple[str, bytes | None]], ctx: TaskContext) -> Plan:
        """A directory copy: probe every destination file, upload the ones that differ."""
        dests = {f"f{i}": posixpath.join(args["dest"], rel) for i, (rel, _) in enumerate(files)}
        res = ctx.probe(stat_probe(dests))
        stats = stats_from(res.stdout)
        steps: list[Any] = []
        dirs = sorted({posixpath.dirname(p) for p in dests.values()})
        dmode = args.get("directory_mode")
        for d in dirs:
            steps.append(Command(f"[ -d {q(d)} ] || mkdir -p {q(d)}" + (f" && chmod {dmode} {q(d)}" if dmode else "")))
        changed = False
        mode = args.get("mode")
        for i, (_rel, data) in enumerate(files):
            cur = stats[f"f{i}"]
            assert data is not None
            if not cur.get("exists") or (cur.get("checksum") != hashlib.sha1(data).hexdigest() and args["force"]):
                steps.append(Upload(data, dests[f"f{i}"], mode=target_mode(mode, 0o644, False) and
                                    format(target_mode(mode, 0o644, False), "04o"),
                                    owner=args.get("owner"), group=args.get("group")))
                changed = True
        return Plan(changed, steps if changed else [], result={"dest": args["dest"], "files": len(files)})
