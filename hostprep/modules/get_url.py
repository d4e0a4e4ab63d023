"""get_url: download a file on the host (curl or wget), verified by checksum, written atomically."""

from __future__ import annotations

import posixpath
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules._files import (
    FILE_ARGS,
    attribute_steps,
    path_info,
    path_info_after,
    stats_from,
    with_path_info,
)
from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext
from hostprep.modules.shellutil import parse_kv_lines, q, sections, stat_snippet

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
        # Ansible's result: checksums, elapsed, url, dest, then msg/status_code/md5sum after a download, and the
        # path's owner/group/mode/size/state
        result: dict[str, Any] = {"url": args["url"], "dest": dest, "checksum_dest": None, "checksum_src": None,
                                  "elapsed": 0}
        if not needs:
            steps, _before, _after = attribute_steps(dest, cur, args.get("mode"), args.get("owner"), args.get("group"))
            msg = "file already exists but file attributes changed" if steps else "file already exists"
            return Plan(bool(steps), with_path_info(steps, dest) if steps else steps,
                        result={**result, "msg": msg, **({} if steps else path_info(cur))})
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
            backup = (f'b={q(dest)}."$(date +%Y-%m-%d@%H:%M:%S)~"; cp -p {q(dest)} "$b" && '
                      'echo "backup_file=$b"; ')
        mode = args.get("mode")
        mode_cmd = f'chmod {q(str(mode))} "$t"; ' if mode else (
            f'if [ -e {q(dest)} ]; then chmod "$(stat -c %a {q(dest)})" "$t"; else chmod 0644 "$t"; fi; ')
        owner = ""
        if args.get("owner") or args.get("group"):
            owner = f'chown {q((args.get("owner") or "") + (":" + args["group"] if args.get("group") else ""))} "$t"; '
        fetch = (" ".join(q(c) for c in curl) + auth + f' -D "$t.h" -w \'status_code=%{{http_code}}\\n\' -o "$t" '
                 f'{q(args["url"])}')
        sums = (f'echo "checksum_src=$(sha1sum < "$t" | cut -d" " -f1)"; [ -f {q(dest)} ] && '
                f'echo "checksum_dest=$(sha1sum < {q(dest)} | cut -d" " -f1)"; '
                'echo "length=$(sed -n \'s/^[Cc]ontent-[Ll]ength: *\\([0-9]*\\).*/\\1/p\' "$t.h" | tail -n1)"; '
                'echo "elapsed=$(( $(date +%s) - s ))"; ')
        script = (f's=$(date +%s); t=$(mktemp {q(tmpdir)}/.hostprep-get_url-XXXXXX) || exit 1; '
                  f'trap \'rm -f "$t" "$t.h"\' EXIT; {fetch} || exit $?; {sums}{check}{backup}{mode_cmd}{owner}'
                  f'mv -f "$t" {q(dest)}; rm -f "$t.h"; trap - EXIT; '
                  f'echo "md5sum=$(md5sum < {q(dest)} | cut -d" " -f1)"')
        stdin = None
        if args.get("url_username"):
            user = args["url_username"].replace('"', '\\"')
            pw = (args.get("url_password") or "").replace('"', '\\"')
            stdin = f'user = "{user}:{pw}"\n'.encode()
        # no diff: Ansible's get_url gives none
        return Plan(True, with_path_info([Command(script, stdin=stdin, no_log=True)], dest), result=result)

    def finish(self, args: dict[str, Any], plan: Plan, outputs: list, ctx: TaskContext) -> dict:
        """Ansible's fields from what the download printed: checksums, status, msg, md5sum, elapsed, path info."""
        result = dict(plan.result)
        if outputs:
            kv = parse_kv_lines(outputs[-1].stdout.split("@@hostprep:", 1)[0])
            for key in ("checksum_src", "checksum_dest", "md5sum", "backup_file"):
                if kv.get(key):
                    result[key] = kv[key]
            if kv.get("status_code", "").isdigit():
                result["status_code"] = int(kv["status_code"])
                ok = outputs[-1].rc == 0
                result["msg"] = f"OK ({kv.get('length') or 'unknown'} bytes)" if ok else "Request failed"
            if kv.get("elapsed", "").isdigit():
                result["elapsed"] = int(kv["elapsed"])
        result.update(path_info_after(outputs) or {})
        return result
