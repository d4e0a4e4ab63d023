"""stat: facts about a path (never changes anything), with the fields of Ansible's stat module."""

from __future__ import annotations

import os
import stat as st
from typing import Any

from hostprep.modules.base import Arg, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import parse_kv_lines, q

# lsattr's letters as Ansible names them (module_utils.common.file.FILE_ATTRIBUTES)
FILE_ATTRIBUTES = {
    "A": "noatime", "a": "append", "c": "compressed", "C": "nocow", "d": "nodump", "D": "dirsync", "e": "extents",
    "E": "encrypted", "h": "blocksize", "i": "immutable", "I": "indexed", "j": "journalled", "N": "inline",
    "s": "zero", "S": "synchronous", "t": "notail", "T": "blockroot", "u": "undelete", "X": "compressedraw",
    "Z": "compresseddirty",
}

# one read-only round: stat(1) with sub-second times, access as the task's user, link, checksum, file(1), lsattr
STAT_MODULE_SNIPPET = r'''p={path}
if [ -e "$p" ] || {{ [ {follow} = no ] && [ -L "$p" ]; }}; then
  stat {deref}-c 'rawmode=%f
uid=%u
gid=%g
size=%s
inode=%i
dev=%d
nlink=%h
blocks=%b
block_size=%o
rdev=%t:%T
atime=%.9X
mtime=%.9Y
ctime=%.9Z' "$p"
  owner=$(stat {deref}-c %U "$p"); [ "$owner" = UNKNOWN ] || echo "pw_name=$owner"
  group=$(stat {deref}-c %G "$p"); [ "$group" = UNKNOWN ] || echo "gr_name=$group"
  [ -r "$p" ] && echo readable=1; [ -w "$p" ] && echo writeable=1; [ -x "$p" ] && echo executable=1
  if [ -L "$p" ]; then echo "lnk_target=$(readlink "$p")"; echo "lnk_source=$(readlink -f "$p")"; fi
  if [ {checksum} = yes ] && [ -f "$p" ] && [ -r "$p" ] && {{ [ {follow} = yes ] || [ ! -L "$p" ]; }}; then
    echo "checksum=$(sha1sum < "$p" | cut -d' ' -f1)"; fi
  if [ {mime} = yes ] && command -v file >/dev/null 2>&1; then
    echo "mime=$(file --mime-type --mime-encoding "$p" 2>/dev/null)"; fi
  if [ {attr} = yes ] && command -v lsattr >/dev/null 2>&1; then
    echo "lsattr=$(lsattr -vd "$p" 2>/dev/null | head -n1)"; fi
else
  echo absent=1
fi'''


class StatModule(Module):
    name = "stat"
    doc = ("Return the `stat` of a path with the fields of Ansible's stat module: exists, isdir/isreg/islnk..., mode, "
           "owner (pw_name/gr_name), size, blocks, times with sub-second precision, checksum (sha1), mimetype, "
           "charset, attributes (lsattr).")
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
        yes = {True: "yes", False: "no"}
        return STAT_MODULE_SNIPPET.format(path=q(args["path"]), follow=yes[args["follow"]],
                                          deref="-L " if args["follow"] else "", checksum=yes[args["get_checksum"]],
                                          mime=yes[args["get_mime"]], attr=yes[args["get_attributes"]])

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        return Plan(False, result={"stat": stat_result(args, probe.stdout if probe else "")})


def stat_result(args: dict[str, Any], stdout: str) -> dict[str, Any]:
    """The `stat` dict of Ansible's stat module from the probe's output."""
    kv = parse_kv_lines(stdout)
    if "rawmode" not in kv:
        return {"exists": False}
    raw = int(kv["rawmode"], 16)
    mode = st.S_IMODE(raw)
    major, minor = (int(x, 16) for x in kv["rdev"].split(":"))
    out: dict[str, Any] = {
        "exists": True, "path": args["path"], "mode": format(mode, "04o"),
        "isdir": st.S_ISDIR(raw), "ischr": st.S_ISCHR(raw), "isblk": st.S_ISBLK(raw), "isreg": st.S_ISREG(raw),
        "isfifo": st.S_ISFIFO(raw), "islnk": st.S_ISLNK(raw), "issock": st.S_ISSOCK(raw),
        **{k: int(kv[k]) for k in ("uid", "gid", "size", "inode", "dev", "nlink")},
        **{k: float(kv[k]) for k in ("atime", "mtime", "ctime")},
        "wusr": bool(mode & st.S_IWUSR), "rusr": bool(mode & st.S_IRUSR), "xusr": bool(mode & st.S_IXUSR),
        "wgrp": bool(mode & st.S_IWGRP), "rgrp": bool(mode & st.S_IRGRP), "xgrp": bool(mode & st.S_IXGRP),
        "woth": bool(mode & st.S_IWOTH), "roth": bool(mode & st.S_IROTH), "xoth": bool(mode & st.S_IXOTH),
        "isuid": bool(mode & st.S_ISUID), "isgid": bool(mode & st.S_ISGID),
        "blocks": int(kv["blocks"]), "block_size": int(kv["block_size"]), "device_type": os.makedev(major, minor),
        "readable": "readable" in kv, "writeable": "writeable" in kv, "executable": "executable" in kv,
    }
    for key in ("lnk_source", "lnk_target", "pw_name", "gr_name", "checksum"):
        if key in kv:
            out[key] = kv[key]
    if args["get_mime"]:
        out["mimetype"] = out["charset"] = "unknown"
        answer = kv.get("mime", "")
        if ":" in answer and ";" in answer.rsplit(":", 1)[1]:
            mimetype, charset = answer.rsplit(":", 1)[1].split(";", 1)
            out["mimetype"] = mimetype.strip()
            out["charset"] = charset.split("=", 1)[-1].strip()
    if args["get_attributes"]:
        out.update(version=None, attributes=[], attr_flags="")
        words = kv.get("lsattr", "").split()
        if len(words) >= 2:
            flags = words[1].replace("-", "").strip()
            out.update(version=words[0].strip(), attr_flags=flags,
                       attributes=[FILE_ATTRIBUTES[f] for f in flags if f in FILE_ATTRIBUTES])
    return out
