"""hostprep.runtime.image: an image in a host's hostprep-runtime store, from a tar, the host's programs or a registry.

The runtime rewrites an image's config when it imports it, so the image's digest on the host cannot be worked
out on the control node. What the module compares instead is a record it keeps beside the runtime's state for
each image it put there (`hostprep-imports/NAME.json`): where the image came from (the tar's sha256, or the
host paths) and the manifest digest the import produced. The image is (re)made when it is missing, when its
source changed, or when the name now points at another manifest (retagged or replaced by hand).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from hostprep.modules._runtime import (
    DEFAULT_BOOT_DIR,
    DEFAULT_EXECUTABLE,
    DEFAULT_STATE_DIR,
    IMPORTS,
    RuntimeView,
    listing_probe,
    normalize_ref,
    pulled_name,
    record_name,
    runtime_cmd,
    usable_view,
)
from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext, Upload
from hostprep.modules.shellutil import join, q


class RuntimeImageModule(Module):
    name = "hostprep.runtime.image"
    doc = ("An image in hostprep-runtime's store on the host: imported from an image tar on the control node "
           "(OCI layout or `docker save`; uploaded only when the host lacks that tar's image), made from the "
           "host's own programs (`image from-host`), or pulled from a registry (`hostprep-runtime pull`, once: "
           "a tag that moves on the registry is not pulled again).")
    examples = ("- hostprep.runtime.image:\n    name: app:1.0\n    src: images/app-1.0.tar\n"
                "- hostprep.runtime.image:\n    name: tools\n    paths: [/bin/sh, /bin/sleep]\n"
                "- hostprep.runtime.image:\n    name: old\n    state: absent\n")
    args = {
        "name": Arg("str", required=True, doc="The image's name on the host (`name` means `name:latest`)."),
        "state": Arg("str", default="present", choices=("present", "absent")),
        "source": Arg("str", choices=("file", "host", "registry"),
                      doc="Where the image comes from; default: file with src, host with paths, else registry."),
        "src": Arg("path", doc="An image tar on the control node (a role's files/ or the playbook's files/)."),
        "paths": Arg("list", elements="str", doc="Programs (and files) of the host for `image from-host`."),
        "executable": Arg("path", default=DEFAULT_EXECUTABLE, doc="The hostprep-runtime on the host."),
        "plain_http": Arg("bool", default=False, doc="source=registry: HTTP without TLS for this registry."),
        "state_dir": Arg("path", default=DEFAULT_STATE_DIR, doc="The runtime's state directory on the host."),
    }
    mutually_exclusive = (("src", "paths"),)

    def probe(self, args: dict[str, Any]) -> str | None:
        return listing_probe(args["executable"], args["state_dir"], DEFAULT_BOOT_DIR)

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        ref = normalize_ref(args["name"])
        result: dict[str, Any] = {"name": ref, "state": args["state"]}
        view, problem = usable_view("hostprep.runtime.image", probe, args["executable"], ctx.check_mode)
        if view is None:
            return Plan(failed=True, msg=problem, result=result)
        have = view.images.get(ref)
        record = view.imports.get(ref)
        record_path = f"{args['state_dir']}/{IMPORTS}/{record_name(ref)}"
        if args["state"] == "absent":
            if have is None and record is None:
                return Plan(False, result=result)
            steps = [Command(f"{runtime_cmd(args['executable'], args['state_dir'])} rmi {q(ref)}")] if have else []
            steps.append(Command(f"rm -f {q(record_path)}"))
            return Plan(True, steps, result=result,
                        diff={"before": f"image {ref}: present\n", "after": f"image {ref}: absent\n"})
        source = args.get("source") or ("file" if args.get("src") else "host" if args.get("paths") else "registry")
        result["source"] = source
        if source == "registry":
            return self._pull(args, view, result)
        if source == "file":
            if not args.get("src"):
                return Plan(failed=True, result=result, msg="hostprep.runtime.image: source=file needs src")
            path = self._local(args["src"], ctx)
            digest = "sha256:" + _sha256(path)
            wanted = {"name": ref, "source": "file", "sha256": digest}
            result.update(src=str(path), sha256=digest)
        else:
            if not args.get("paths"):
                return Plan(failed=True, result=result, msg="hostprep.runtime.image: source=host needs paths")
            wanted = {"name": ref, "source": "host", "paths": list(args["paths"])}
            path = None
            result["paths"] = list(args["paths"])
        differs = _differs(have, record, wanted)
        if not differs:
            result["digest"] = have["digest"] if have else None
            return Plan(False, result=result)
        return Plan(True, self._steps(args, ref, wanted, record_path, path), result=result,
                    diff={"before": f"image {ref}: {_describe(have, record)}\n",
                          "after": f"image {ref}: {_describe_wanted(wanted)} (differs: {', '.join(differs)})\n"})

    @staticmethod
    def _local(src: str, ctx: TaskContext) -> Path:
        path = Path(src)
        if not path.is_absolute() and ctx.find_file is not None:
            path = ctx.find_file(src, "files")
        if not path.is_file():
            from hostprep.errors import ModuleArgError

            raise ModuleArgError(f"image tar {src} not found on the control node", key="src")
        return path

    @staticmethod
    def _steps(args: dict[str, Any], ref: str, wanted: dict[str, Any], record_path: str,
               path: Path | None) -> list:
        b = runtime_cmd(args["executable"], args["state_dir"])
        imports = f"{args['state_dir']}/{IMPORTS}"
        head = json.dumps(wanted, sort_keys=True)[:-1]  # the record, closed by the digest the import prints
        save = (f'printf \'%s, "digest": "%s"}}\\n\' {q(head)} "$d" > {q(record_path)}.tmp'
                f" && mv {q(record_path)}.tmp {q(record_path)}")
        steps: list = [Command(f"mkdir -p -m 0700 {q(imports)}")]
        if wanted["source"] == "file":
            upload = f"{imports}/.upload-{wanted['sha256'].split(':')[1][:16]}.tar"
            assert path is not None
            steps.append(Upload(path.read_bytes(), upload, mode="0600"))
            steps.append(Command(f"d=$({b} import {q(upload)} {q(ref)}) && rm -f {q(upload)} && {save}"))
        else:
            steps.append(Command(f"d=$({b} image from-host {q(ref)} {join(wanted['paths'])}) && {save}"))
        return steps

    @staticmethod
    def _pull(args: dict[str, Any], view: RuntimeView, result: dict[str, Any]) -> Plan:
        """Pull when the host lacks the image (by the name the pull stores it under); never again after."""
        from hostprep.runtime.refs import InvalidReference

        try:
            stored = pulled_name(args["name"])
        except InvalidReference as exc:
            return Plan(failed=True, result=result, msg=f"hostprep.runtime.image: {exc}")
        result["name"] = stored
        have = view.images.get(stored)
        if have is not None:
            result["digest"] = have["digest"]
            return Plan(False, result=result)
        b = runtime_cmd(args["executable"], args["state_dir"])
        record_path = f"{args['state_dir']}/{IMPORTS}/{record_name(stored)}"
        head = json.dumps({"name": stored, "source": "registry", "ref": args["name"]}, sort_keys=True)[:-1]
        plain = " --plain-http" if args["plain_http"] else ""
        cmd = (f"mkdir -p -m 0700 {q(args['state_dir'] + '/' + IMPORTS)} && "
               f"d=$({b} pull{plain} {q(args['name'])} | tail -n 1) && "
               f'printf \'%s, "digest": "%s"}}\\n\' {q(head)} "$d" > {q(record_path)}.tmp'
               f" && mv {q(record_path)}.tmp {q(record_path)}")
        return Plan(True, [Command(cmd)], result=result,
                    diff={"before": f"image {stored}: absent\n", "after": f"image {stored}: pulled from "
                                                                          f"{args['name']} (differs: missing)\n"})


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _differs(have: dict[str, Any] | None, record: dict[str, Any] | None, wanted: dict[str, Any]) -> list[str]:
    """What keeps the host's image from being the wanted one (empty: nothing)."""
    if have is None:
        return ["missing"]
    if record is None:
        return ["not made by this module"]
    out = [key for key in ("source", "sha256", "paths") if record.get(key) != wanted.get(key)]
    if record.get("digest") != have.get("digest"):
        out.append("digest (the name now points at another image)")
    return out


def _describe(have: dict[str, Any] | None, record: dict[str, Any] | None) -> str:
    if have is None:
        return "absent"
    if record is None:
        return f"{have['digest']} (origin unknown)"
    return f"{have['digest']} from {_describe_wanted(record)}"


def _describe_wanted(rec: dict[str, Any]) -> str:
    if rec.get("source") == "file":
        return f"an image tar with sha256 {rec.get('sha256', '?').split(':')[-1][:16]}"
    return "the host's " + " ".join(rec.get("paths") or [])
