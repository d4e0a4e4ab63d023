"""uri: an HTTP(S) request made from the host with curl (what EL hosts have; no Python needed).

The request's secrets (user/password, body) go to curl as a config on stdin, never on its command
line. A status outside `status_code` fails the task, as in Ansible; the response's JSON is returned
as `json`, its text as `content` with `return_content`, its headers lower-cased with `_` for `-`.
With `dest` the body goes to a file as Ansible's uri writes it (If-Modified-Since an existing file's time, so an
unchanged file answers 304; changed whenever it is written; the path's info in the result).
"""

from __future__ import annotations

import base64
import json
import posixpath
import re
import urllib.parse
from typing import Any

from hostprep.modules._files import FILE_ARGS, PATH_INFO, parse_stat, path_info
from hostprep.modules.base import Arg, Module, ProbeResult, TaskContext
from hostprep.modules.shellutil import q, sections, stat_snippet

FOLLOW = ("safe", "all", "none", "yes", "no", "urllib2")


def _config_value(text: str) -> str:
    """A value in curl's config file syntax (double-quoted, with \\\\ and \\" escapes)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    escaped = escaped.replace("\t", "\\t")
    return f'"{escaped}"'


class UriModule(Module):
    name = "uri"
    doc = ("Make an HTTP request from the host (with curl). Fails unless the status is in status_code; returns "
           "status, url, json (JSON responses), content (with return_content) and the headers; dest writes the "
           "body to a file.")
    examples = ("- uri:\n    url: http://localhost:8080/health\n    status_code: [200, 204]\n"
                "    return_content: true\n")
    supports_check_mode = False
    gives_diff = False  # Ansible's uri has no diff support
    args = {
        "url": Arg("str", required=True),
        "method": Arg("str", default="GET"),
        "body": Arg("raw"),
        "body_format": Arg("str", default="raw", choices=("raw", "json", "form-urlencoded")),
        "headers": Arg("dict", default={}),
        "status_code": Arg("list", elements="int", default=[200]),
        "return_content": Arg("bool", default=False),
        "url_username": Arg("str", aliases=("user",)),
        "url_password": Arg("str", aliases=("password",), no_log=True),
        "force_basic_auth": Arg("bool", default=False),
        "validate_certs": Arg("bool", default=True),
        "timeout": Arg("int", default=30),
        "follow_redirects": Arg("str", default="safe", choices=FOLLOW),
        "creates": Arg("path"),
        "removes": Arg("path"),
        "ca_path": Arg("path"),
        "dest": Arg("path", doc="Write the answer's body to this file (a directory: the URL's file name in it)."),
        **FILE_ARGS,
    }

    def _body(self, args: dict[str, Any], headers: dict[str, str]) -> str | None:
        body = args.get("body")
        if body is None:
            return None
        if args["body_format"] == "json":
            headers.setdefault("Content-Type", "application/json")
            return body if isinstance(body, str) else json.dumps(body)
        if args["body_format"] == "form-urlencoded":
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            return body if isinstance(body, str) else urllib.parse.urlencode(body, doseq=True)
        return body if isinstance(body, str) else json.dumps(body)

    def request(self, args: dict[str, Any]) -> tuple[str, bytes]:
        """The shell command and the curl config (stdin) of the request."""
        headers = {str(k): str(v) for k, v in args["headers"].items()}
        body = self._body(args, headers)
        method = args["method"].upper()
        config = [f"url = {_config_value(args['url'])}", f"request = {_config_value(method)}",
                  f"max-time = {int(args['timeout'])}"]
        for key, value in headers.items():
            config.append(f"header = {_config_value(f'{key}: {value}')}")
        if body is not None:
            config.append(f"data-binary = {_config_value(body)}")
        if args.get("url_username") is not None:
            config.append(f"user = {_config_value(args['url_username'] + ':' + (args.get('url_password') or ''))}")
            config.append("basic")
        if not args["validate_certs"]:
            config.append("insecure")
        if args.get("ca_path"):
            config.append(f"cacert = {_config_value(args['ca_path'])}")
        follow = args["follow_redirects"]
        if follow in ("all", "yes", "urllib2") or (follow == "safe" and method in ("GET", "HEAD")):
            config.append("location")
        if method == "HEAD":
            config.append("head")
        dest = args.get("dest")
        # with dest: If-Modified-Since the file's time, as Ansible asks when it is a file; the body stays in the
        # temporary directory for write_dest (the second step), which removes it
        cond = f"set --; [ -f {q(dest)} ] && set -- -z {q(dest)}; " if dest else "set --; "
        body = ('echo "@@hostprep:tmp@@"; echo "$t"' if dest and not args["return_content"] else
                'echo "@@hostprep:body@@"; base64 "$t/body" 2>/dev/null')
        cmd = (f't=$(mktemp -d) && {{ {cond}curl -sS -K - "$@" -o "$t/body" -D "$t/headers" '
               "-w '%{http_code} %{url_effective} %{num_redirects}\\n' > \"$t/meta\" 2> \"$t/err\"; "
               'rc=$?; echo "@@hostprep:rc@@"; echo $rc; echo "@@hostprep:meta@@"; cat "$t/meta"; '
               'echo "@@hostprep:err@@"; cat "$t/err"; echo "@@hostprep:headers@@"; cat "$t/headers"; '
               f'{body}; }}')
        if not dest or args["return_content"]:
            cmd += '; rm -rf "$t"'
        elif dest:
            # the body is read back only when it may be JSON (Ansible parses it into `json`)
            cmd += ('; echo "@@hostprep:json@@"; grep -qi "^content-type:.*json" "$t/headers" 2>/dev/null && '
                    'base64 "$t/body"; true')
        return cmd, ("\n".join(config) + "\n").encode()

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: ProbeResult | None = None) -> dict[str, Any]:
        for key, exists_skips in (("creates", True), ("removes", False)):
            if args.get(key):
                present = ctx.probe(f"test -e {q(args[key])}").rc == 0
                if present == exists_skips:
                    return {"changed": False, "skipped": True,
                            "msg": f"{args[key]} {'exists' if present else 'does not exist'}"}
        cmd, config = self.request(args)
        res = ctx.run(cmd, stdin=config, become=False)
        result = parse_response(res.stdout, args)
        if args.get("dest"):
            write_dest(result, sections(res.stdout), args, ctx)
        return result


def parse_response(stdout: str, args: dict[str, Any]) -> dict[str, Any]:
    """The module's result from the command's sections."""
    sec = sections(stdout)
    rc = int((sec.get("rc") or "1").strip() or 1)
    meta = (sec.get("meta") or "").split()
    result: dict[str, Any] = {"changed": False, "url": args["url"], "status": -1, "redirected": False}
    if rc != 0 or len(meta) < 2:
        result.update(failed=True, msg=f"Status code was -1 and not {args['status_code']}: Request failed: "
                                       f"{(sec.get('err') or '').strip() or f'curl exited {rc}'}")
        return result
    status, url = int(meta[0]), meta[1]
    redirects = int(meta[2]) if len(meta) > 2 and meta[2].isdigit() else 0
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    reason = ""
    blocks = [b for b in (sec.get("headers") or "").replace("\r", "").split("\n\n") if b.strip()]
    if blocks:  # the last response's status line and headers
        reason = blocks[-1].splitlines()[0].split(" ", 2)[2:] or [""]
        reason = reason[0].strip()
    for line in (blocks[-1].splitlines()[1:] if blocks else []):
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower().replace("-", "_")] = value.strip()
            if key.strip().lower() == "set-cookie" and "=" in value:
                name, _, rest = value.strip().partition("=")
                cookies[name] = rest.split(";", 1)[0]
    body = base64.b64decode((sec.get("body") or sec.get("json") or "").strip() or b"")
    text = body.decode("utf-8", errors="replace")
    result.update(headers)
    result.update(status=status, url=url, redirected=redirects > 0, elapsed=0)
    if not 200 <= status < 300:
        # Ansible (urllib) takes an answer outside 2xx after the redirects it follows (a 304 to
        # If-Modified-Since too) as an HTTPError: its msg, the error body as `body` (dropped when the
        # status fails the task), no cookies
        result["msg"] = f"HTTP Error {status}: {reason}"
        result["body"] = text
    else:
        result.update(msg=f"OK ({headers.get('content_length', 'unknown')} bytes)", cookies=cookies,
                      cookies_string="; ".join(f"{k}={v}" for k, v in cookies.items()))
    if "content_length" in headers:
        result["content_length"] = headers["content_length"]
    if "json" in headers.get("content_type", ""):
        try:
            result["json"] = json.loads(text)
        except ValueError:
            pass
    if args["return_content"]:
        result["content"] = text
    if status not in args["status_code"]:
        result.pop("body", None)
        result.update(failed=True, msg=f"Status code was {status} and not {args['status_code']}: {result['msg']}")
    return result


def dest_path(dest: str, is_dir: bool, headers: dict[str, str], url: str) -> str:
    """Where Ansible's uri writes: dest, or in a directory dest the answer's file name (Content-Disposition's
    filename, else the last part of the final URL's path; 'index.html' without one)."""
    if not is_dir:
        return dest
    found = re.search(r'filename\s*=\s*"?([^";]+)"?', headers.get("content_disposition", ""))
    name = posixpath.basename(found.group(1)) if found else ""
    if not name:
        name = urllib.parse.unquote(posixpath.basename(urllib.parse.urlsplit(url).path.rstrip("/")))
    return posixpath.join(dest, name or "index.html")


def write_dest(result: dict[str, Any], sec: dict[str, str], args: dict[str, Any], ctx: TaskContext) -> None:
    """Ansible's uri with dest: an accepted answer other than 304 is written to the file (replaced only when its
    sha1 differs, atomically, keeping an existing file's mode and owner), then mode/owner/group applied; the
    task says changed whenever it wrote (Ansible's does, even for the same content); `path` the file."""
    tmp = (sec.get("tmp") or "").strip()
    if result["status"] == -1:
        if tmp:
            ctx.run(f"rm -rf {q(tmp)}", become=False)
        return
    dest = args["dest"]
    probe = ctx.probe(f"[ -d {q(dest)} ] && echo dir; true")
    path = dest_path(dest, probe.stdout.strip() == "dir", result, result["url"])
    p = q(path)
    report = f"echo '@@hostprep:{PATH_INFO}@@'; {stat_snippet(path, False)}"
    status_ok = result["status"] in args["status_code"]
    if status_ok and result["status"] != 304:
        source = q(f"{tmp}/body") if tmp else None
        if source is None:  # return_content: the body came back in the result
            data = (result.get("content") or "").encode()
            source = '"$t/body"'
            prefix = f"t=$(mktemp -d) && printf %s {q(base64.b64encode(data).decode())} | base64 -d > \"$t/body\" && "
        else:
            prefix = f"t={q(tmp)} && "
        attrs = ""
        if args.get("mode") is not None:
            attrs += f" && chmod {q(str(args['mode']))} {p}"
        if args.get("owner") is not None:
            attrs += f" && chown {q(str(args['owner']))} {p}"
        if args.get("group") is not None:
            attrs += f" && chgrp {q(str(args['group']))} {p}"
        cmd = (f"{prefix}n=$(sha1sum < {source}); o=$( [ -f {p} ] && sha1sum < {p}); "
               f"if [ \"$n\" != \"$o\" ]; then cp {source} {p}.hp-uri && "
               f"{{ [ ! -e {p} ] || {{ chmod --reference={p} {p}.hp-uri && chown --reference={p} {p}.hp-uri; }}; }} && "
               f"mv -f {p}.hp-uri {p}; fi{attrs}; r=$?; rm -rf \"$t\"\n{report}\nexit $r")
        res = ctx.run(cmd)
        if res.rc != 0:
            result.update(failed=True, msg=f"failed to copy the download to {path}: {res.stderr.strip()}")
        else:
            result["changed"] = True
    else:
        res = ctx.probe((f"rm -rf {q(tmp)}\n" if tmp else "") + report)
    result["path"] = path
    # Ansible's exit_json adds the path's info (lstat) to a result with a path
    cur = parse_stat(sections(res.stdout).get(PATH_INFO, ""))
    result.update(path_info(cur))
