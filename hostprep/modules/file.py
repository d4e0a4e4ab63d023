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
from hostprep.modules.shellutil import parse_kv_lines, q, sections

# the SELinux context arguments and their chcon flags, in the order of a context (user:role:type:level)
SELINUX_PARTS = {"seuser": "user", "serole": "role", "setype": "type", "selevel": "level"}
CHCON_FLAGS = {"seuser": "-u", "serole": "-r", "setype": "-t", "selevel": "-l"}


def selinux_probe(path: str) -> str:
    """A probe section: the path's context when SELinux is enabled on the host, nothing when it is not."""
    return ("echo '@@hostprep:selinux@@'\n"
            "if command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled; then "
            f"echo enabled=1; echo context=$(stat -c %C -- {q(path)} 2>/dev/null); fi")


def selinux_steps(path: str, args: dict[str, Any], text: str) -> tuple[list[Command], str | None]:
    """chcon for the context parts that differ (none when SELinux is disabled: Ansible leaves them then)."""
    wanted = {k: str(args[k]) for k in SELINUX_PARTS if args.get(k) is not None}
    kv = parse_kv_lines(text)
    if not wanted or kv.get("enabled") != "1":
        return [], None
    default = [k for k, v in wanted.items() if v == "_default"]
    if default:
        return [], f"file: {default[0]}=_default (the policy's default context) is not supported by hostprep"
    parts = dict(zip(SELINUX_PARTS, (kv.get("context") or "").split(":", 3), strict=False))
    differ = {k: v for k, v in wanted.items() if parts.get(k) != v}
    if not differ:
        return [], None
    flags = " ".join(f"{CHCON_FLAGS[k]} {q(v)}" for k, v in differ.items())
    return [Command(f"chcon {flags} -- {q(path)}")], None


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
        **{key: Arg("str", doc=f"SELinux context {part} (only on a host where SELinux is enabled, as Ansible's)")
           for key, part in SELINUX_PARTS.items()},
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
        if any(args.get(k) is not None for k in SELINUX_PARTS):
            snippet += "\n" + selinux_probe(args["path"])
        return snippet

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        path = args["path"]
        cur = stats_from(probe.stdout if probe else "")["path"]
        sec = sections(probe.stdout if probe else "")
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
            mismatch = sec.get("recurse", "").strip()
            if mismatch or not probe:
                spec = (args.get("owner") or "") + (":" + args["group"] if args.get("group") else "")
                attr_steps.append(Command(f"chown -R {q(spec)} {q(path)}"))
                a["recurse"] = True
        steps += attr_steps
        se_steps, se_error = selinux_steps(path, args, sec.get("selinux", ""))
        if se_error:
            return Plan(failed=True, msg=se_error, result={"path": path})
        steps += se_steps
        before.update(b)
        after.update(a)
        numeric_owner_diff(before, after, cur, sec.get("ids", ""))
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

