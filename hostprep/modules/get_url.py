"""get_url: download a file on the host (curl or wget), verified by checksum, written atomically."""

from __future__ import annotations

import posixpath
import re
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


def _last_response(headers: str) -> tuple[int | None, str, str | None]:
    """(status, reason, Content-Length) of the last response in curl's header dump (redirects come first)."""
    status, reason, length = None, "", None
    for line in headers.splitlines():
        m = re.match(r"HTTP/[0-9.]+ (\d+) ?(.*)", line)
        if m:
            status, reason, length = int(m.group(1)), m.group(2).strip(), None
        elif line.lower().startswith("content-length:"):
            length = line.split(":", 1)[1].strip()
    return status, reason, length


class GetUrlModule(Module):
    name = "get_url"
    doc = ("Download url to dest on the host. With checksum (algo:hex) an existing dest is only replaced when "
           "its checksum differs, and a download that does not match fails without touching dest.")
    examples = ("- get_url:\n    url: https://download.docker.com/linux/centos/docker-ce.repo\n"
                "    dest: /etc/yum.repos.d/docker-ce.repo\n    mode: '0644'\n")
    gives_diff = False  # Ansible's get_url has no diff support
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

    def _curl(self, args: dict[str, Any]) -> list[str]:
        curl = ["curl", "-sSL", "--max-time", str(args["timeout"])]
        if not args["validate_certs"]:
            curl.append("-k")
        if not args["use_proxy"]:
            curl += ["--noproxy", "*"]
        for k, v in (args.get("headers") or {}).items():
            curl += ["-H", f"{k}: {v}"]
        return curl

    def _asks_if_modified(self, args: dict[str, Any]) -> bool:
        """Ansible asks the server with If-Modified-Since (the dest's mtime) when dest exists, unless forced or a
        checksum decides; the probe asks the same with HEAD (without credentials: those go to the download)."""
        return not args["force"] and not args["checksum"] and not args.get("url_username")

    def probe(self, args: dict[str, Any]) -> str | None:
        algo = self._algo(args)
        dest = args["dest"]
        lines = ["echo '@@hostprep:dest@@'", stat_snippet(dest, checksum=False)]
        if algo:
            lines += ["echo '@@hostprep:sum@@'", f"[ -f {q(dest)} ] && {ALGOS[algo[0]]} < {q(dest)} | cut -d' ' -f1"]
        if self._asks_if_modified(args):
            # (a missing dest: curl ignores -z; the HEAD's Content-Length is check mode's 'OK (N bytes)')
            head = " ".join(q(c) for c in [*self._curl(args), "-I", "-D", "-", "-o", "/dev/null", "-z", dest,
                                            args["url"]])
            lines += ["echo '@@hostprep:ims@@'", f"{head} 2>/dev/null | tr -d '\\r'"]
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
        needs = not cur.get("exists") or args["force"] or algo is None or current_sum != algo[1]
        head = _last_response(sections(out).get("ims", ""))
        if cur.get("exists") and head[0] == 304:
            # the server says dest is current: Ansible's url_get ends the task here (dest's path info added)
            return Plan(False, result={"url": args["url"], "dest": dest, "msg": f"HTTP Error 304: {head[1]}",
                                       "status_code": 304, "elapsed": 0, **path_info(cur)})
        # Ansible's result: checksums, elapsed, url, dest, then msg/status_code/md5sum after a download, and the
        # path's owner/group/mode/size/state
        result: dict[str, Any] = {"url": args["url"], "dest": dest, "checksum_dest": None, "checksum_src": None,
                                  "elapsed": 0}
        if not needs:
            steps, _before, _after = attribute_steps(dest, cur, args.get("mode"), args.get("owner"), args.get("group"))
            msg = "file already exists but file attributes changed" if steps else "file already exists"
            return Plan(bool(steps), with_path_info(steps, dest) if steps else steps,
                        result={**result, "msg": msg, **({} if steps else path_info(cur))})
        curl = self._curl(args)
        # Ansible asks with If-Modified-Since (the dest's mtime) unless forced or the checksum differs: the
        # server may answer 304 Not Modified, which changes nothing
        if cur.get("exists") and not args["force"] and algo is None:
            curl += ["-z", dest]
        auth = ""
        if args.get("url_username"):
            # credentials go through a netrc-style config on stdin, never on the command line
            auth = " -K -"
        tmpdir = args.get("tmp_dest") or posixpath.dirname(dest) or "."
        check = ""
        if algo:
            check = (f'got=$({ALGOS[algo[0]]} < "$t" | cut -d" " -f1); [ "$got" = {q(algo[1])} ] || '
                     f'{{ echo "checksum_mismatch=$got"; echo "tmp=$t"; exit 1; }}; ')
        backup = ""
        if args["backup"] and cur.get("exists"):
            backup = (f'b={q(dest)}."$(date +%Y-%m-%d@%H:%M:%S)~"; cp -p {q(dest)} "$b" && '
                      'echo "backup_file=$b"; ')
        mode = args.get("mode")
        mode_cmd = f'chmod {q(str(mode))} "$t"; ' if mode else (
            f'if [ -e {q(dest)} ]; then chmod "$(stat -c %a {q(dest)})" "$t"; else chmod 0644 "$t"; fi; ')
        owner = ""
        chown = (args.get("owner") or "") + (":" + args["group"] if args.get("group") else "")
        if chown:
            owner = f'chown {q(chown)} "$t"; '
        # the same content: dest stays, only its attributes are made right (Ansible: changed only if they were not)
        same = (f'a=$(stat -c %a:%u:%g {q(dest)}); '
                + (f'chmod {q(str(mode))} {q(dest)}; ' if mode else '')
                + (f'chown {q(chown)} {q(dest)}; ' if chown else '')
                + f'[ "$a" = "$(stat -c %a:%u:%g {q(dest)})" ] || echo "attributes_changed=1"; rm -f "$t"; ')
        fetch = (f'code=$({" ".join(q(c) for c in curl)}{auth} -D "$t.h" -w \'%{{http_code}}\' -o "$t" '
                 f'{q(args["url"])}); rc=$?; echo "status_code=$code"; '
                 'echo "reason=$(sed -n \'s/^HTTP\\/[0-9.]* [0-9]* *//p\' "$t.h" | tail -n1 | tr -d \'\\r\')"; '
                 '[ $rc = 0 ] || exit $rc; echo "elapsed=$(( $(date +%s) - s ))"; '
                 '[ "$code" = 304 ] && { echo "not_modified=1"; exit 0; }; '
                 '[ "$code" = 200 ] || exit 22; ')
        sums = (f'src=$(sha1sum < "$t" | cut -d" " -f1); echo "checksum_src=$src"; dsum=; [ -f {q(dest)} ] && '
                f'{{ dsum=$(sha1sum < {q(dest)} | cut -d" " -f1); echo "checksum_dest=$dsum"; }}; '
                'echo "length=$(sed -n \'s/^[Cc]ontent-[Ll]ength: *\\([0-9]*\\).*/\\1/p\' "$t.h" | tail -n1)"; ')
        script = (f's=$(date +%s); t=$(mktemp {q(tmpdir)}/.hostprep-get_url-XXXXXX) || exit 1; '
                  f'trap \'rm -f "$t" "$t.h"\' EXIT; {fetch}{sums}{check}'
                  f'if [ "$src" = "$dsum" ]; then {same}else {backup}{mode_cmd}{owner}'
                  f'mv -f "$t" {q(dest)}; echo "replaced=1"; fi; rm -f "$t.h"; trap - EXIT; '
                  f'echo "md5sum=$(md5sum < {q(dest)} | cut -d" " -f1)"')
        stdin = None
        if args.get("url_username"):
            user = args["url_username"].replace('"', '\\"')
            pw = (args.get("url_password") or "").replace('"', '\\"')
            stdin = f'user = "{user}:{pw}"\n'.encode()
        if ctx.check_mode and head[0] == 200:
            # Ansible's check mode asks with HEAD: its checksum_src is that of the empty body
            result.update(checksum_src="da39a3ee5e6b4b0d3255bfef95601890afd80709",
                          msg=f"OK ({head[2] or 'unknown'} bytes)")
        # no diff: Ansible's get_url gives none
        return Plan(True, with_path_info([Command(script, stdin=stdin, no_log=True)], dest), result=result)

    reports_rc = False  # Ansible's get_url result has no rc, even when the download fails

    def finish(self, args: dict[str, Any], plan: Plan, outputs: list, ctx: TaskContext) -> dict:
        """Ansible's fields from what the download printed: checksums, status, msg, md5sum, elapsed, path info;
        a 304 answer gives only url/dest/status_code/msg/elapsed; the same content changes nothing."""
        result = dict(plan.result)
        if not outputs:
            return result
        out = outputs[-1]
        kv = parse_kv_lines(out.stdout.split("@@hostprep:", 1)[0])
        code = int(kv["status_code"]) if kv.get("status_code", "").isdigit() else None
        elapsed = int(kv["elapsed"]) if kv.get("elapsed", "").isdigit() else 0
        if kv.get("not_modified"):
            return {"url": result["url"], "dest": result["dest"], "_changed": False,
                    "msg": f"HTTP Error 304: {kv.get('reason') or 'Not Modified'}", "status_code": 304,
                    "elapsed": elapsed}
        if out.rc != 0 and code not in (None, 0, 200):  # the server said no: Ansible's url_get failure
            return {"url": result["url"], "dest": result["dest"], "msg": "Request failed", "status_code": code,
                    "response": f"HTTP Error {code}: {kv.get('reason', '')}".rstrip(": "), "elapsed": elapsed}
        if out.rc != 0 and code in (None, 0):  # no answer at all (connection refused, timeout, DNS)
            said = out.stderr.strip().splitlines()
            return {"url": result["url"], "dest": result["dest"], "elapsed": elapsed,
                    "msg": f"Request failed: {said[-1] if said else 'no answer'}", "status_code": -1}
        for key in ("checksum_src", "checksum_dest", "md5sum", "backup_file"):
            if kv.get(key):
                result[key] = kv[key]
        result["elapsed"] = elapsed
        if kv.get("checksum_mismatch"):
            want = (args["checksum"].partition(":")[2]).lower()
            result["msg"] = (f"The checksum for {kv.get('tmp', '')} did not match {want}; "
                             f"it was {kv['checksum_mismatch']}.")
            return result
        if code is not None:
            result["status_code"] = code
            result["msg"] = f"OK ({kv.get('length') or 'unknown'} bytes)"
        result["_changed"] = bool(kv.get("replaced") or kv.get("attributes_changed"))
        result.update(path_info_after(outputs) or {})
        return result
