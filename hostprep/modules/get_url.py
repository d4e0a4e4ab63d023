"""get_url: download a file on the host (curl or wget), verified by checksum, written atomically."""

from __future__ import annotations

import posixpath
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules._files import FILE_ARGS, attribute_steps, stats_from
from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import q, sections, stat_snippet

ALGOS = {"sha1": "sha1sum", "sha224": "sha224sum", "sha256": "sha256sum", "sha384": "sha384sum",
         "sha512": "sha512sum", "md5": "md5sum"}


class GetUrlModule(Module):
    name = "get_url"
    doc = ("Download url to dest on the host. With checksum (algo:hex) an existing dest is only replaced when "
           "its checksum differs, and a download that does not match fails without touching dest.")
    examples = ("- get_url:\n    url: https://download.docker.com/linux/centos/docker-ce.repo\n"
                "    dest: /etc/yum.repos.d/docker-ce.repo\n    mode: '0644'\n")
    args = {
        "url": Arg("str", required=True),
        "dest": Arg("path", required=True),
        "checksum": Arg("str", default=""),
        "force": Arg("bool", default=False),
        "backup": Arg("bool", default=False),
        "timeout": Arg("int", default=10),
        "headers": Arg("dict"),
        "validate_certs": Arg("bool", default=True),
        "url_username": Arg("str", aliases=("username",)),
        "url_password": Arg("str", aliases=("password",), no_log=True),
        "force_basic_auth": Arg("bool", default=False),
        "tmp_dest": Arg("path"),
        "use_proxy": Arg("bool", default=True),
        **FILE_ARGS,
    }

    def _algo(self, args: dict[str, Any]) -> tuple[str, str] | None:
        if not args["checksum"]:
            return None
        algo, _, digest = args["checksum"].partition(":")
        if algo not in ALGOS or not digest:
            raise ModuleArgError("checksum must look like sha256:<hex> (sha1/sha224/sha256/sha384/sha512/md5)",
                                 key="checksum")
        if digest.startswith(("http://", "https://")):
            raise ModuleArgError("checksum from a URL is not supported by hostprep; give the digest", key="checksum")
        return algo, digest.lower()

    def probe(self, args: dict[str, Any]) -> str | None:
        algo = self._algo(args)
        dest = args["dest"]
        lines = ["echo '@@hostprep:dest@@'", stat_snippet(dest, checksum=False)]
        if algo:
            lines += ["echo '@@hostprep:sum@@'", f"[ -f {q(dest)} ] && {ALGOS[algo[0]]} < {q(dest)} | cut -d' ' -f1"]
        return "\n".join(lines)

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        out = probe.stdout if probe else ""
        cur = stats_from(out).get("dest", {"exists": False})
        algo = self._algo(args)
        dest = args["dest"]
        if cur.get("kind") == "directory":
            dest = posixpath.join(dest, posixpath.basename(args["url"].split("?")[0]) or "index.html")
            cur = {"exists": False}
        current_sum = sections(out).get("sum", "").strip()
        needs = not cur.get("exists") or args["force"] or (algo is not None and current_sum != algo[1])
        result = {"url": args["url"], "dest": dest}
        if not needs:
            steps, before, after = attribute_steps(dest, cur, args.get("mode"), args.get("owner"), args.get("group"))
            return Plan(bool(steps), steps, result={**result, "msg": "OK (file already there)"},
                        diff={"before": before, "after": after} if steps else None)
        curl = ["curl", "-fsSL", "--max-time", str(args["timeout"])]
        if not args["validate_certs"]:
            curl.append("-k")
        if not args["use_proxy"]:
            curl += ["--noproxy", "*"]
        for k, v in (args.get("headers") or {}).items():
            curl += ["-H", f"{k}: {v}"]
        auth = ""
        if args.get("url_username"):
            # credentials go through a netrc-style config on stdin, never on the command line
            auth = " -K -"
        tmpdir = args.get("tmp_dest") or posixpath.dirname(dest) or "."
        check = ""
        if algo:
            check = (f'got=$({ALGOS[algo[0]]} < "$t" | cut -d" " -f1); [ "$got" = {q(algo[1])} ] || '
                     f'{{ echo "checksum mismatch: expected {algo[1]}, got $got" >&2; exit 1; }}; ')
        backup = ""
        if args["backup"] and cur.get("exists"):
            backup = f'cp -p {q(dest)} {q(dest)}."$(date +%Y-%m-%d@%H:%M:%S)~"; '
        mode = args.get("mode")
        mode_cmd = f'chmod {q(str(mode))} "$t"; ' if mode else (
            f'if [ -e {q(dest)} ]; then chmod "$(stat -c %a {q(dest)})" "$t"; else chmod 0644 "$t"; fi; ')
        owner = ""
        if args.get("owner") or args.get("group"):
            owner = f'chown {q((args.get("owner") or "") + (":" + args["group"] if args.get("group") else ""))} "$t"; '
        fetch = " ".join(q(c) for c in curl) + auth + f' -o "$t" {q(args["url"])}'
        script = (f't=$(mktemp {q(tmpdir)}/.hostprep-get_url-XXXXXX) || exit 1; trap \'rm -f "$t"\' EXIT; '
                  f'{fetch} || exit $?; {check}{backup}{mode_cmd}{owner}mv -f "$t" {q(dest)}; trap - EXIT')
        stdin = None
        if args.get("url_username"):
            user = args["url_username"].replace('"', '\\"')
            pw = (args.get("url_password") or "").replace('"', '\\"')
            stdin = f'user = "{user}:{pw}"\n'.encode()
        return Plan(True, [Command(script, stdin=stdin, no_log=True)], result=result,
                    diff={"before": f"{dest}: {'present' if cur.get('exists') else 'absent'}\n",
                          "after": f"{dest}: downloaded from {args['url']}\n"})
