"""uri: an HTTP(S) request made from the host with curl (what EL hosts have; no Python needed).

The request's secrets (user/password, body) go to curl as a config on stdin, never on its command
line. A status outside `status_code` fails the task, as in Ansible; the response's JSON is returned
as `json`, its text as `content` with `return_content`, its headers lower-cased with `_` for `-`.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from typing import Any

from hostprep.modules.base import Arg, Module, ProbeResult, TaskContext
from hostprep.modules.shellutil import q, sections

FOLLOW = ("safe", "all", "none", "yes", "no", "urllib2")


def _config_value(text: str) -> str:
    """A value in curl's config file syntax (double-quoted, with \\\\ and \\" escapes)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    escaped = escaped.replace("\t", "\\t")
    return f'"{escaped}"'


class UriModule(Module):
    name = "uri"
    doc = ("Make an HTTP request from the host (with curl). Fails unless the status is in status_code; returns "
           "status, url, json (JSON responses), content (with return_content) and the headers.")
    examples = ("- uri:\n    url: http://localhost:8080/health\n    status_code: [200, 204]\n"
                "    return_content: true\n")
    supports_check_mode = False
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
        cmd = ('t=$(mktemp -d) && curl -sS -K - -o "$t/body" -D "$t/headers" '
               "-w '%{http_code} %{url_effective} %{num_redirects}\\n' > \"$t/meta\" 2> \"$t/err\"; "
               'rc=$?; echo "@@hostprep:rc@@"; echo $rc; echo "@@hostprep:meta@@"; cat "$t/meta"; '
               'echo "@@hostprep:err@@"; cat "$t/err"; echo "@@hostprep:headers@@"; cat "$t/headers"; '
               'echo "@@hostprep:body@@"; base64 "$t/body" 2>/dev/null; rm -rf "$t"')
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
        return parse_response(res.stdout, args)


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
    body = base64.b64decode((sec.get("body") or "").strip() or b"")
    text = body.decode("utf-8", errors="replace")
    result.update(headers)
    result.update(status=status, url=url, redirected=redirects > 0, elapsed=0)
    if status >= 400:
        # Ansible (urllib) takes an answer of 400 or more as an HTTPError: its msg, the error body as `body`
        # (dropped when the status fails the task), no cookies
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
