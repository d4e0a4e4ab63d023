"""file: files, directories, links and their attributes."""

from __future__ import annotations

from typing import Any

from hostprep.modules._files import (
    FILE_ARGS,
    attribute_steps,
    file_result,
    ids_probe,
    numeric_owner_diff,
    path_info,
    path_info_after,
    stat_probe,
    stats_from,
    with_path_info,
)
from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q, sections


class FileModule(Module):
    name = "file"
    doc = "Make sure a path is a file, directory, symlink or hard link with the given mode/owner/group, or absent."
    examples = ("- file:\n    path: /etc/docker\n    state: directory\n    mode: '0755'\n"
                "- file:\n    src: /opt/app/current\n    dest: /usr/local/bin/app\n    state: link\n")
    args = {
        "path": Arg("path", required=True, aliases=("dest", "name"), doc="The path to manage."),
        "state": Arg("str", choices=("absent", "directory", "file", "hard", "link", "touch"),
                     doc="What the path should be (default: file if it exists as one, else its current kind)."),
        "src": Arg("path", doc="Link target (state=link/hard)."),
        "recurse": Arg("bool", default=False, doc="Apply mode/owner/group below a directory."),
        "force": Arg("bool", default=False, doc="Replace what is there to make the link."),
        "follow": Arg("bool", default=True, doc="Follow symlinks for attribute changes."),
        "modification_time": Arg("str", doc="'preserve', 'now' or YYYYMMDDHHMM.SS (touch)."),
        "access_time": Arg("str", doc="'preserve', 'now' or YYYYMMDDHHMM.SS (touch)."),
        **FILE_ARGS,
    }

    def probe(self, args: dict[str, Any]) -> str | None:
        snippet = stat_probe({"path": args["path"]}, checksum=False)
        if args.get("owner") is not None or args.get("group") is not None:
            snippet += "\n" + ids_probe(args.get("owner"), args.get("group"))
        if args["recurse"] and (args.get("owner") or args.get("group")):
            tests = []
            if args.get("owner"):
                tests.append(f"! -user {q(args['owner'])}")
            if args.get("group"):
                tests.append(f"! -group {q(args['group'])}")
            snippet += (f"\necho '@@hostprep:recurse@@'\n[ -d {q(args['path'])} ] && "
                        f"find {q(args['path'])} \\( {' -o '.join(tests)} \\) -print 2>/dev/null | head -n1")
        return snippet

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        path = args["path"]
        cur = stats_from(probe.stdout if probe else "")["path"]
        state = args["state"] or (cur["kind"] if cur["exists"] and cur["kind"] in ("directory", "link") else "file")
        steps: list[Command] = []
        before = {"path": path, "state": cur["kind"] if cur["exists"] else "absent"}
        after = {"path": path, "state": state}
        if state == "absent":
            if cur["exists"]:
                steps.append(Command(f"rm -rf -- {q(path)}"))
            return Plan(bool(steps), steps, diff={"before": before, "after": after} if steps else None,
                        result={"path": path, "state": "absent"})
        if state == "file":
            if not cur["exists"]:
                return Plan(failed=True, msg=f"file ({path}) is absent, cannot continue", result={"path": path})
            if cur["kind"] == "directory":
                return Plan(failed=True, msg=f"file ({path}) is a directory, not a file", result={"path": path})
        elif state == "directory":
            if cur["exists"] and cur["kind"] != "directory":
                return Plan(failed=True, msg=f"{path} already exists as a {cur['kind']}", result={"path": path})
            if not cur["exists"]:
                steps.append(Command(f"mkdir -p -- {q(path)}"))
                cur = {"exists": True, "kind": "directory", "mode": "0755"}
        elif state == "touch":
            stamp = args.get("modification_time") or "now"
            if not cur["exists"]:
                steps.append(Command(f"touch -- {q(path)}"))
                cur = {"exists": True, "kind": "file", "mode": "0644"}
            elif stamp != "preserve":
                steps.append(Command(f"touch -- {q(path)}"))
        elif state in ("link", "hard"):
            src = args.get("src")
            if not src:
                return Plan(failed=True, msg=f"src is required for state={state}")
            ok = (state == "link" and cur["kind"] == "link" and cur.get("target") == src)
            if state == "hard" and cur["exists"]:
                ok = False
            if not ok:
                if cur["exists"] and cur["kind"] not in ("link",) and not args["force"] and state == "link":
                    return Plan(failed=True, msg=f"refusing to convert {path} from {cur['kind']} to a symlink "
                                                  "(use force: yes)")
                flag = "-sfn" if state == "link" else "-f"
                steps.append(Command(f"ln {flag} -- {q(src)} {q(path)}"))
            if state == "link":
                if before["state"] == after["state"]:
                    before.pop("state")
                    after.pop("state")
                result = {"dest": path, "src": src, "state": state, **({} if steps else path_info(cur))}
                return Plan(bool(steps), with_path_info(steps, path) if steps else steps,
                            diff={"before": before, "after": after}, result=result)
        attr_steps, b, a = attribute_steps(path, cur, args.get("mode"), args.get("owner"), args.get("group"),
                                           args["follow"])
        if args["recurse"] and state == "directory" and (args.get("owner") or args.get("group")):
            mismatch = sections(probe.stdout if probe else "").get("recurse", "").strip()
            if mismatch or not probe:
                spec = (args.get("owner") or "") + (":" + args["group"] if args.get("group") else "")
                attr_steps.append(Command(f"chown -R {q(spec)} {q(path)}"))
                a["recurse"] = True
        steps += attr_steps
        before.update(b)
        after.update(a)
        numeric_owner_diff(before, after, cur, sections(probe.stdout if probe else "").get("ids", ""))
        if before.get("state") == after.get("state"):  # Ansible's diff names the state only when it changes
            before.pop("state", None)
            after.pop("state", None)
        result = file_result(path, cur, a, "file" if state == "touch" else state)
        if state in ("touch", "hard"):  # Ansible names the path `dest` for these
            result["dest"] = result.pop("path")
        if state == "hard":
            result["src"] = args["src"]
        if steps:
            steps = with_path_info(steps, path)
        else:
            result.update(path_info(cur))
        return Plan(bool(steps), steps, diff={"before": before, "after": after}, result=result)

    def finish(self, args: dict[str, Any], plan: Plan, outputs: list, ctx: TaskContext) -> dict:
        """The planned result with the path's owner/group/mode/size/state as they are after the change."""
        result = dict(plan.result)
        result.update(path_info_after(outputs) or {})
        return result

