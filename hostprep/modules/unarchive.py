"""unarchive: unpack a tar(.gz/.bz2/.xz) or zip archive into a directory on the host, only when it differs.

A controller archive (the default) is read here: its members' content checksums are compared with
the files under dest in one read-only look at the host, and it is uploaded and unpacked only when
something differs. With remote_src the archive is listed and compared on the host (`tar --diff`,
`unzip -p | sha1sum`). `creates` skips it outright.
"""

from __future__ import annotations

import hashlib
import posixpath
import secrets
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from hostprep.modules._files import (
    FILE_ARGS,
    attribute_steps,
    path_info,
    path_info_after,
    stat_probe,
    stats_from,
    with_path_info,
)
from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext, Upload
from hostprep.modules.shellutil import join, q, sections

# what `tar --diff` says when a member really differs (mode, uid and times are compared separately)
TAR_DIFFERS = ("Contents differ", "Size differs", "No such file", "File type differs", "Symlink differs",
               "Not found", "Does not exist", "Cannot stat")


def members(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """(handler, [{name, kind, sha1|target}]) of a controller archive."""
    out: list[dict[str, Any]] = []
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                name = info.filename.rstrip("/")
                if info.is_dir():
                    out.append({"name": name, "kind": "directory"})
                else:
                    out.append({"name": name, "kind": "file", "sha1": hashlib.sha1(zf.read(info)).hexdigest()})  # noqa: S324
        return "ZipArchive", out
    with tarfile.open(path) as tf:
        for m in tf.getmembers():
            name = posixpath.normpath(m.name)
            if name in (".", ""):
                continue
            if m.isdir():
                out.append({"name": name, "kind": "directory"})
            elif m.issym():
                out.append({"name": name, "kind": "link", "target": m.linkname})
            elif m.isfile():
                data = tf.extractfile(m)
                digest = hashlib.sha1(data.read() if data else b"").hexdigest()  # noqa: S324
                out.append({"name": name, "kind": "file", "sha1": digest})
    return ("TgzArchive" if path.suffix in (".gz", ".tgz", ".bz2", ".xz", ".txz", ".tbz") else "TarArchive"), out


def differs(member: dict[str, Any], cur: dict[str, Any]) -> bool:
    if not cur.get("exists") or cur.get("kind") != member["kind"]:
        return True
    if member["kind"] == "file":
        return cur.get("checksum") != member["sha1"]
    if member["kind"] == "link":
        return cur.get("target") != member["target"]
    return False


def is_zip_name(src: str) -> bool:
    return src.lower().endswith(".zip")


class UnarchiveModule(Module):
    name = "unarchive"
    doc = ("Unpack a .tar, .tar.gz/.tgz, .tar.bz2, .tar.xz or .zip archive (from the controller, or on the host with "
           "remote_src) into an existing directory, with tar/unzip on the host; nothing is done when every member "
           "is already there with the same content, or when `creates` exists.")
    examples = ("- unarchive:\n    src: app-1.2.tar.gz\n    dest: /opt/app\n    owner: app\n"
                "- unarchive:\n    src: /tmp/tool.zip\n    dest: /usr/local/bin\n    remote_src: true\n"
                "    creates: /usr/local/bin/tool\n")
    args = {
        "src": Arg("path", required=True, doc="The archive: on the controller (files/), or on the host (remote_src)."),
        "dest": Arg("path", required=True, doc="An existing directory to unpack into."),
        "remote_src": Arg("bool", default=False),
        "copy": Arg("bool", default=True, doc="Deprecated: copy=false means remote_src=true."),
        "creates": Arg("path", doc="Skip if this path exists on the host."),
        "extra_opts": Arg("list", elements="str", default=[], doc="More options for tar/unzip."),
        "exclude": Arg("list", elements="str", default=[]),
        "include": Arg("list", elements="str", default=[]),
        "list_files": Arg("bool", default=False, doc="Return the archive's member names as `files`."),
        "keep_newer": Arg("bool", default=False),
        "io_buffer_size": Arg("int", default=65536),
        "decrypt": Arg("bool", default=True),
        "validate_certs": Arg("bool", default=True),
        **FILE_ARGS,
    }
    mutually_exclusive = (("include", "exclude"),)

    def _remote(self, args: dict[str, Any]) -> bool:
        return args["remote_src"] or not args["copy"]

    def probe(self, args: dict[str, Any]) -> str | None:
        paths = {"dest": args["dest"]}
        if args.get("creates"):
            paths["creates"] = args["creates"]
        if self._remote(args):
            paths["src"] = args["src"]
            return stat_probe(paths, checksum=False) + "\n" + self._remote_script(args)
        return stat_probe(paths, checksum=False)

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        stats = stats_from(probe.stdout if probe else "")
        src, dest = args["src"], args["dest"]
        if args.get("creates") and stats.get("creates", {}).get("exists"):
            return Plan(False, result={"skipped": True, "msg": f"skipped, since {args['creates']} exists"})
        dstat = stats.get("dest", {})
        if dstat.get("kind") != "directory":
            return Plan(failed=True, msg=f"dest '{dest}' must be an existing dir")
        remote = self._remote(args)
        if remote:
            if not stats.get("src", {}).get("exists"):
                return Plan(failed=True, msg=f"Source '{src}' does not exist")
            handler, names, changed, data = self._compare_remote(args, probe.stdout if probe else "")
            archive = src
        else:
            if ctx is None or ctx.find_file is None:
                return Plan(failed=True, msg="unarchive: cannot find src on the controller")
            local = ctx.find_file(src, "files")
            handler, listing = members(local)
            names = [m["name"] + ("/" if m["kind"] == "directory" else "") for m in listing]  # as tar -t lists
            wanted = [m for m in listing if self._selected(args, m["name"])]
            checks = {f"m{i}": posixpath.join(dest, m["name"]) for i, m in enumerate(wanted)}
            cur = stats_from(ctx.probe(stat_probe(checks)).stdout) if checks else {}
            changed = any(differs(m, cur.get(f"m{i}", {})) for i, m in enumerate(wanted))
            data = local.read_bytes()
            archive = f"/tmp/.hostprep-archive-{secrets.token_hex(8)}"
        steps: list[Any] = []
        if changed:
            if not remote:
                steps.append(Upload(data, archive, mode="0600"))
            steps.append(Command(self._extract(args, handler, archive, remote), check_rc=False))
        steps += self._attr_steps(args, names, ctx)
        result: dict[str, Any] = {"dest": dest, "src": src, "handler": handler, "state": "directory"}
        if args["list_files"]:
            result["files"] = names
        # Ansible adds dest's path info (owner, group, mode, size, uid, gid): as it is now, or read after the change
        if steps and not ctx.check_mode:
            steps = with_path_info(steps, dest)
        else:
            result.update(path_info(dstat))
        return Plan(bool(steps), steps, result=result)

    def _selected(self, args: dict[str, Any], name: str) -> bool:
        import fnmatch

        if args["include"]:
            return any(fnmatch.fnmatch(name, p) for p in args["include"])
        return not any(fnmatch.fnmatch(name, p) for p in args["exclude"])

    def _remote_script(self, args: dict[str, Any]) -> str:
        """A read-only listing of a host archive and what differs under dest (part of the probe)."""
        src, dest = q(args["src"]), q(args["dest"])
        if is_zip_name(args["src"]):
            return (f"echo '@@hostprep:list@@'; [ -f {src} ] && unzip -Z1 {src}\necho '@@hostprep:diff@@'\n"
                    f"[ -f {src} ] && unzip -Z1 {src} | while IFS= read -r n; do case $n in */) [ -d {dest}/\"$n\" ] "
                    f"|| echo \"$n\"; continue;; esac; a=$(unzip -p {src} \"$n\" | sha1sum); b=$(sha1sum < "
                    f"{dest}/\"$n\" 2>/dev/null); [ \"$a\" = \"$b\" ] || echo \"$n\"; done")
        return (f"echo '@@hostprep:list@@'; [ -f {src} ] && tar -tf {src}\necho '@@hostprep:diff@@'\n"
                f"[ -f {src} ] && [ -d {dest} ] && tar -d -f {src} -C {dest} 2>&1; true")

    def _compare_remote(self, args: dict[str, Any], stdout: str) -> tuple[str, list[str], bool, None]:
        sec = sections(stdout)
        listed = [n for n in sec.get("list", "").splitlines() if n and n not in ("./", ".")]
        if is_zip_name(args["src"]):
            diff = [n for n in sec.get("diff", "").splitlines() if self._selected(args, n.rstrip("/"))]
            return "ZipArchive", listed, bool(diff), None
        diff = [x for x in sec.get("diff", "").splitlines() if any(w in x for w in TAR_DIFFERS)]
        handler = "TgzArchive" if args["src"].endswith((".gz", ".tgz", ".bz2", ".xz")) else "TarArchive"
        return handler, listed, bool(diff), None

    def _extract(self, args: dict[str, Any], handler: str, archive: str, remote: bool) -> str:
        dest = q(args["dest"])
        extra = join(args["extra_opts"])
        if handler == "ZipArchive":
            cmd = f"unzip -o {extra} {q(archive)}".replace("  ", " ")
            cmd += (" " + join(args["include"])) if args["include"] else ""
            cmd += (" -x " + join(args["exclude"])) if args["exclude"] else ""
            cmd += f" -d {dest}"
        else:
            cmd = f"tar -x -f {q(archive)} -C {dest} {extra}".rstrip()
            cmd += "".join(f" --exclude={q(e)}" for e in args["exclude"])
            cmd += " --keep-newer-files" if args["keep_newer"] else ""
            cmd += (" --wildcards " + join(args["include"])) if args["include"] else ""
        if not remote:
            cmd += f"\nrc=$?; rm -f -- {q(archive)}; exit $rc"
        return cmd

    def _attr_steps(self, args: dict[str, Any], names: list[str], ctx: TaskContext) -> list[Command]:
        """mode/owner/group of every unpacked member, as Ansible sets them (only where they differ)."""
        if not (args.get("mode") or args.get("owner") or args.get("group")):
            return []
        names = [posixpath.normpath(n) for n in names]
        top = sorted({n.split("/", 1)[0] for n in names if self._selected(args, n)})
        paths = [posixpath.join(args["dest"], n) for n in names if self._selected(args, n)]
        if not paths:
            return []
        cur = stats_from(ctx.probe(stat_probe({f"m{i}": p for i, p in enumerate(paths)}, checksum=False)).stdout)
        need = False
        for i, p in enumerate(paths):
            if cur.get(f"m{i}", {}).get("kind") == "link":
                continue  # chmod/chown -R act on what links point to, not on the links
            steps, _b, _a = attribute_steps(p, cur.get(f"m{i}", {"exists": False}), args.get("mode"),
                                            args.get("owner"), args.get("group"))
            need = need or bool(steps)
        if not need:
            return []
        cmds = []
        targets = " ".join(q(posixpath.join(args["dest"], t)) for t in top)
        if args.get("owner") or args.get("group"):
            spec = (args.get("owner") or "") + (":" + args["group"] if args.get("group") else "")
            cmds.append(Command(f"chown -R {q(spec)} {targets}"))
        if args.get("mode"):
            cmds.append(Command(f"chmod -R {q(str(args['mode']))} {targets}"))
        return cmds

    def finish(self, args: dict[str, Any], plan: Plan, outputs: list, ctx: TaskContext) -> dict:
        result = dict(plan.result)
        commands = [s for s in plan.steps if isinstance(s, Command)]
        for step, res in zip(commands, outputs, strict=False):
            if step.cmd.startswith(("tar -x", "unzip")):
                result["extract_results"] = {"cmd": _ansible_cmd(result, step.cmd), "rc": res.rc,
                                             "out": res.stdout, "err": res.stderr}
                if res.rc != 0:
                    result.update(failed=True, msg=f"failed to unpack {args['src']} to {args['dest']}")
        result.update(path_info_after(outputs) or {})
        return result


_TAR_FLAGS = {".gz": "-z", ".tgz": "-z", ".bz2": "-j", ".tbz": "-j", ".xz": "-J", ".txz": "-J"}


def _ansible_cmd(result: dict[str, Any], cmd: str) -> list[str] | str:
    """The extraction's argv as Ansible's TgzArchive/TarArchive give it (/usr/bin/tar --extract -C dest -z -f
    archive); other handlers: the command line as run."""
    if result.get("handler") not in ("TgzArchive", "TarArchive") or " --" in cmd.split("\n", 1)[0]:
        return cmd.split("\n", 1)[0]
    src = str(result.get("src", ""))
    flag = next((f for ext, f in _TAR_FLAGS.items() if src.endswith(ext)), None)
    return ["/usr/bin/tar", "--extract", "-C", str(result["dest"]), *([flag] if flag else []), "-f", src]
