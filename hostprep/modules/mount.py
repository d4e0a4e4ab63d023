"""mount (ansible.posix): fstab entries and mounted file systems (Linux)."""

from __future__ import annotations

import base64
import time
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext, Upload
from hostprep.modules.shellutil import join, q, sections

FIELDS = ("src", "name", "fstype", "opts", "dump", "passno")


def escape(value: str) -> str:
    """fstab's octal escapes for backslash, space and ampersand."""
    return value.replace("\\", "\\134").replace(" ", "\\040").replace("&", "\\046")


def _matches(ld: dict[str, str], want: dict[str, Any]) -> bool:
    if ld["name"] != escape(want["name"]):
        return False
    # swap entries (mount point 'none') are told apart by their source
    return not (want.get("src") and ld["name"] == "none" and ld["fstype"] == "swap" and ld["src"] != want["src"])


def set_fstab(text: str, want: dict[str, Any]) -> tuple[str, bool]:
    """The fstab with `want`'s entry added or corrected (Ansible's set_mount, Linux fields)."""
    out: list[str] = []
    exists = changed = False
    esc = {k: escape(str(want[k])) for k in FIELDS}
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            line += "\n"
        fields = line.split("#")[0].split()
        if not line.strip() or line.strip().startswith("#") or len(fields) not in (4, 5, 6):
            out.append(line)
            continue
        ld = {"dump": "0", "passno": "0", **dict(zip(FIELDS, fields, strict=False))}
        if not _matches(ld, want):
            out.append(line)
            continue
        exists = True
        diff = False
        for key in ("src", "fstype", "opts", "dump", "passno"):
            if ld[key] != esc[key]:
                ld[key], diff = esc[key], True
        changed = changed or diff
        out.append(" ".join(ld[k] for k in FIELDS) + "\n" if diff else line)
    if not exists:
        out.append(" ".join(esc[k] for k in FIELDS) + "\n")
        changed = True
    return "".join(out), changed


def unset_fstab(text: str, want: dict[str, Any]) -> tuple[str, bool]:
    """The fstab without `want`'s entry (Ansible's unset_mount: six-field lines only)."""
    out: list[str] = []
    changed = False
    for line in text.splitlines(keepends=True):
        fields = line.split()
        if not line.strip() or line.strip().startswith("#") or len(fields) != 6:
            out.append(line)
            continue
        if _matches(dict(zip(FIELDS, fields, strict=True)), want):
            changed = True
            continue
        out.append(line)
    return "".join(out), changed


class MountModule(Module):
    name = "mount"
    collection = "ansible.posix"
    doc = ("Manage an fstab entry and whether it is mounted: mounted (entry + mount, remount when the entry "
           "changed), present (entry only), unmounted, absent (entry removed, unmounted, mount point removed), "
           "absent_from_fstab, remounted, ephemeral (mounted without fstab).")
    examples = ("- ansible.posix.mount:\n    path: /data\n    src: UUID=1b2c...\n    fstype: xfs\n"
                "    opts: noatime\n    state: mounted\n")
    gives_diff = False  # ansible.posix's module has no diff support: --diff shows and registers none
    args = {
        "path": Arg("path", required=True, aliases=("name",), doc="The mount point."),
        "src": Arg("path", doc="Device, UUID=/LABEL=, or a remote path (needed for mounted/present/ephemeral)."),
        "fstype": Arg("str", doc="File system type (needed for mounted/present/ephemeral)."),
        "opts": Arg("str", doc="Mount options (default: defaults)."),
        "dump": Arg("str", default="0"),
        "passno": Arg("str", default="0"),
        "state": Arg("str", required=True, choices=("absent", "absent_from_fstab", "mounted", "present", "unmounted",
                                                    "remounted", "ephemeral")),
        "fstab": Arg("str", doc="The fstab file (default /etc/fstab)."),
        "boot": Arg("bool", default=True, doc="false adds noauto."),
        "backup": Arg("bool", default=False),
        "opts_no_log": Arg("bool", default=False),
    }

    def validate(self, raw: Any) -> dict[str, Any]:
        args = super().validate(raw)
        if args["state"] in ("mounted", "present", "ephemeral"):
            missing = [k for k in ("src", "fstype") if not args.get(k)]
            if missing:
                raise ModuleArgError(f"state is {args['state']} but all of the following are missing: "
                                     f"{', '.join(missing)}", key=missing[0])
        return args

    def wanted(self, args: dict[str, Any]) -> dict[str, Any]:
        want = {"name": args["path"], "src": args.get("src"), "fstype": args.get("fstype"),
                "opts": args.get("opts") or "defaults", "dump": args["dump"], "passno": args["passno"],
                "fstab": args.get("fstab") or "/etc/fstab", "boot": "yes"}
        opts = want["opts"].split(",")
        if not args["boot"] and "noauto" not in opts:
            want["boot"] = "no"
            want["opts"] = ",".join([*opts, "noauto"])
        return want

    def probe(self, args: dict[str, Any]) -> str | None:
        fstab = q(args.get("fstab") or "/etc/fstab")
        path = q(args["path"])
        return (f"echo '@@hostprep:fstab@@'; [ -f {fstab} ] && base64 < {fstab}\n"
                f"echo '@@hostprep:path@@'; [ -e {path} ] && echo exists\n"
                f"echo '@@hostprep:mounted@@'\nif command -v findmnt >/dev/null 2>&1; then "
                f"findmnt -rn -o SOURCE,FSTYPE --mountpoint {path} | head -n1\n"
                f"else mountpoint -q {path} 2>/dev/null && echo '? ?'; fi\ntrue")

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        sec = sections(probe.stdout if probe else "")
        raw = sec.get("fstab", "").strip()
        old = base64.b64decode(raw).decode() if raw else ""
        want = self.wanted(args)
        fstab, path, state = want["fstab"], args["path"], args["state"]
        mounted_line = sec.get("mounted", "").strip()
        mounted = bool(mounted_line)
        mount_src = mounted_line.split(" ")[0] if mounted else ""
        tflag = f" -T {q(fstab)}" if fstab != "/etc/fstab" else ""
        # ansible.posix's result: the mount's fields, src and fstype only when given
        result = {**{k: v for k, v in want.items() if not (k in ("src", "fstype") and v is None)}, "backup_file": ""}
        steps: list[Any] = []
        new, changed = old, False
        if state in ("absent", "absent_from_fstab", "present", "mounted"):
            new, changed = unset_fstab(old, want) if state.startswith("absent") else set_fstab(old, want)
            if changed:
                if args["backup"] and raw:
                    backup = f"{fstab}.{time.strftime('%Y-%m-%d@%H:%M:%S')}~"
                    steps.append(Command(f"cp -p {q(fstab)} {q(backup)}"))
                    result["backup_file"] = backup
                steps.append(Upload(new.encode(), fstab))
        if state == "absent" and changed:
            if mounted:
                steps.append(Command(f"umount {q(path)}"))
            if sec.get("path", "").strip():
                steps.append(Command(f"rmdir {q(path)}"))
        elif state == "unmounted" and mounted:
            steps.append(Command(f"umount {q(path)}"))
        elif state == "remounted":
            steps.append(Command(self._remount(want, args, tflag)))
        elif state == "mounted":
            if not sec.get("path", "").strip():
                steps.insert(0, Command(f"mkdir -p {q(path)}"))
            restore = (f"{{ printf %s {q(base64.b64encode(old.encode()).decode())} | base64 -d > {q(fstab)}; exit 1; }}"
                       if changed else "exit 1")
            if not mounted:
                steps.append(Command(f"mount{tflag} {q(path)} || {restore}"))
            elif changed:
                steps.append(Command(f"{{ {self._remount(want, args, tflag)}; }} || {restore}"))
        elif state == "ephemeral":
            ephemeral = f"-t {q(want['fstype'])}" + (f" -o {q(want['opts'])}" if want["opts"] != "defaults" else "")
            if not mounted:
                if not sec.get("path", "").strip():
                    steps.append(Command(f"mkdir -p {q(path)}"))
                steps.append(Command(f"mount {ephemeral} {q(want['src'])} {q(path)}"))
            elif mount_src == want["src"]:
                steps.append(Command(f"mount -o remount {ephemeral} {q(want['src'])} {q(path)}"))
            else:
                return Plan(failed=True, msg="Ephemeral mount point is already mounted with a different source than "
                                             "the specified one. Failing in order to prevent an unwanted unmount or "
                                             "override operation. Try replacing this command with a \"state: "
                                             "unmounted\" followed by a \"state: ephemeral\", or use a different "
                                             "destination path.")
        diff = {"before": old, "after": new, "before_header": fstab, "after_header": fstab} if new != old else None
        return Plan(bool(steps), steps, diff=diff, result=result)

    def _remount(self, want: dict[str, Any], args: dict[str, Any], tflag: str) -> str:
        opts = "remount" + (f",{want['opts']}" if args["state"] == "remounted" and want["opts"] != "defaults" else "")
        path = q(want["name"])
        again = f"umount {path} && mount{tflag} {path}"
        if args["state"] == "remounted" and want["opts"] != "defaults":
            return join(["mount", "-o", opts]) + f"{tflag} {path}"
        return f"mount -o {q(opts)}{tflag} {path} || {{ {again}; }}"

    def finish(self, args: dict[str, Any], plan: Plan, outputs: list, ctx: TaskContext) -> dict:
        result = dict(plan.result)
        if outputs and outputs[-1].rc != 0:
            verb = {"unmounted": "unmounting", "absent": "unmounting", "remounted": "remounting"}.get(args["state"],
                                                                                                      "mounting")
            result["msg"] = f"Error {verb} {args['path']}: {(outputs[-1].stdout + outputs[-1].stderr).strip()}"
        return result
