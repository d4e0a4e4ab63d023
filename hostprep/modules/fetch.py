"""fetch: copy a file from the host to the controller (dest/inventory_hostname/src, or flat)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from hostprep.modules._files import stat_probe, stats_from
from hostprep.modules.base import Arg, Module, ProbeResult, TaskContext


def local_dest(args: dict[str, Any], host: str, basedir: str) -> str:
    """Where Ansible's fetch puts the file on the controller."""
    src, dest = args["src"], args["dest"]
    if args["flat"]:
        if dest.endswith("/"):
            dest = os.path.join(dest, os.path.basename(src))
    else:
        dest = f"{dest}/{host}/{src}"
    if not dest.startswith("/"):
        dest = os.path.join(basedir, dest)
    return os.path.normpath(dest)


def _sha1(path: Path) -> str | None:
    try:
        return hashlib.sha1(path.read_bytes()).hexdigest()  # noqa: S324 - Ansible's checksum
    except (FileNotFoundError, IsADirectoryError):
        return None


class FetchModule(Module):
    name = "fetch"
    doc = ("Copy a file from the host to the controller, into dest/<inventory_hostname>/<src> (or straight to dest "
           "with flat), only when the checksums differ. Check mode skips it, as in Ansible.")
    examples = "- fetch:\n    src: /etc/docker/daemon.json\n    dest: collected/\n"
    supports_check_mode = False
    args = {
        "src": Arg("str", required=True, doc="The file on the host."),
        "dest": Arg("str", required=True, doc="A directory on the controller (a file name with flat)."),
        "flat": Arg("bool", default=False, doc="Write dest itself (or dest/<basename> if dest ends with /)."),
        "fail_on_missing": Arg("bool", default=True),
        "validate_checksum": Arg("bool", default=True),
    }

    def probe(self, args: dict[str, Any]) -> str | None:
        return stat_probe({"src": args["src"]})

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: ProbeResult | None = None) -> dict[str, Any]:
        src = args["src"]
        if probe is None:
            res = ctx.probe(self.probe(args) or "")
            probe = ProbeResult(res.rc, res.stdout, res.stderr)
        cur = stats_from(probe.stdout).get("src", {"exists": False})
        if not cur.get("exists"):
            msg = "the remote file does not exist, not transferring, ignored"
            out = {"changed": False, "file": src, "msg": msg}
            if args["fail_on_missing"]:
                out["failed"] = True
            return out
        if cur.get("kind") == "directory":
            out = {"changed": False, "msg": "remote file is a directory, fetch cannot work on directories"}
            if not args["fail_on_missing"]:
                out["msg"] += ", not transferring, ignored"
            else:
                out["failed"] = True
            return out
        basedir = str(ctx.variables.get("playbook_dir") or os.getcwd())
        if args["flat"]:
            dest0 = args["dest"] if args["dest"].startswith("/") else os.path.join(basedir, args["dest"])
            if os.path.isdir(dest0) and not args["dest"].endswith("/"):
                return {"failed": True, "changed": False, "msg": "dest is an existing directory, use a trailing "
                                                                 "slash if you want to fetch src into that directory"}
        dest = Path(local_dest(args, ctx.host, basedir))
        remote_sum = cur.get("checksum")
        local_sum = _sha1(dest)
        if remote_sum and remote_sum == local_sum:
            return {"changed": False, "md5sum": hashlib.md5(dest.read_bytes()).hexdigest(),  # noqa: S324
                    "file": src, "dest": str(dest), "checksum": local_sum}
        data = ctx.transport.get(src, become=ctx.become)
        got = hashlib.sha1(data).hexdigest()  # noqa: S324
        if args["validate_checksum"] and remote_sum and got != remote_sum:
            return {"failed": True, "changed": False, "msg": "checksum mismatch", "file": src, "dest": str(dest),
                    "checksum": got, "remote_checksum": remote_sum, "remote_md5sum": None}
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.hostprep-{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
        return {"changed": True, "md5sum": hashlib.md5(data).hexdigest(), "dest": str(dest),  # noqa: S324
                "remote_md5sum": None, "checksum": got, "remote_checksum": remote_sum or got}
