"""yum_repository: one section of a .repo file under /etc/yum.repos.d, other sections kept."""

from __future__ import annotations

import base64
import posixpath
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules._files import FILE_ARGS, attribute_steps, stat_probe, stats_from
from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext, Upload
from hostprep.modules.shellutil import q, sections

# argument -> key written in the .repo file (booleans become 1/0 like Ansible writes them)
REPO_KEYS = {
    "description": "name", "baseurl": "baseurl", "mirrorlist": "mirrorlist", "metalink": "metalink",
    "enabled": "enabled", "gpgcheck": "gpgcheck", "gpgkey": "gpgkey", "repo_gpgcheck": "repo_gpgcheck",
    "skip_if_unavailable": "skip_if_unavailable", "priority": "priority", "exclude": "exclude",
    "includepkgs": "includepkgs", "module_hotfixes": "module_hotfixes", "sslverify": "sslverify",
    "cost": "cost", "metadata_expire": "metadata_expire", "timeout": "timeout", "proxy": "proxy",
    "sslcacert": "sslcacert", "enablegroups": "enablegroups", "countme": "countme", "async": "async",
}


def parse_repo_file(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    out: list[tuple[str, list[tuple[str, str]]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            out.append((line[1:-1], []))
        elif out and "=" in line:
            k, v = line.split("=", 1)
            out[-1][1].append((k.strip(), v.strip()))
    return out


def render_repo_file(data: list[tuple[str, list[tuple[str, str]]]]) -> str:
    # configparser's layout, as Ansible writes it: each section followed by an empty line
    return "".join(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in items) + "\n" for name, items in data)


class YumRepositoryModule(Module):
    reports_command_output = False
    name = "yum_repository"
    doc = "Add, change or remove a repository section in a .repo file (file defaults to the repository name)."
    examples = ("- yum_repository:\n    name: docker-ce-stable\n    description: Docker CE Stable - $basearch\n"
                "    file: docker-ce\n    baseurl: https://download.docker.com/linux/centos/$releasever/$basearch/"
                "stable\n    gpgcheck: true\n    gpgkey: https://download.docker.com/linux/centos/gpg\n")
    args = {
        "name": Arg("str", required=True, doc="Repository id (the [section])."),
        "description": Arg("str", doc="Human-readable name (required for state=present)."),
        "file": Arg("str", doc="File name without .repo (default: name)."),
        "reposdir": Arg("path", default="/etc/yum.repos.d"),
        "state": Arg("str", default="present", choices=("present", "absent")),
        "baseurl": Arg("list", elements="str"), "mirrorlist": Arg("str"), "metalink": Arg("str"),
        "enabled": Arg("bool"), "gpgcheck": Arg("bool"), "gpgkey": Arg("list", elements="str"),
        "repo_gpgcheck": Arg("bool"), "skip_if_unavailable": Arg("bool"), "priority": Arg("str"),
        "exclude": Arg("list", elements="str"), "includepkgs": Arg("list", elements="str"),
        "module_hotfixes": Arg("bool"), "sslverify": Arg("bool", aliases=("validate_certs",)), "cost": Arg("str"),
        "metadata_expire": Arg("str"), "timeout": Arg("str"), "proxy": Arg("str"), "sslcacert": Arg("str"),
        "enablegroups": Arg("bool"), "countme": Arg("bool"), "async": Arg("bool"),
        **FILE_ARGS,
    }

    def validate(self, raw: Any) -> dict[str, Any]:
        """Ansible's rules for state=present, checked before any host is touched."""
        args = super().validate(raw)
        if args["state"] == "present":
            if not args.get("description"):
                raise ModuleArgError("yum_repository: description is required with state=present", key="description")
            if not (args.get("baseurl") or args.get("mirrorlist") or args.get("metalink")):
                raise ModuleArgError("yum_repository: one of baseurl, mirrorlist, metalink is required with "
                                     "state=present", key="baseurl")
        if "/" in args["name"] or "/" in (args.get("file") or ""):
            raise ModuleArgError("yum_repository: name and file must not contain '/'", key="file")
        return args

    def _path(self, args: dict[str, Any]) -> str:
        return posixpath.join(args["reposdir"], f"{args.get('file') or args['name']}.repo")

    def probe(self, args: dict[str, Any]) -> str | None:
        path = q(self._path(args))
        return (f"echo '@@hostprep:content@@'; [ -f {path} ] && base64 < {path} || echo ABSENT\n"
                + stat_probe({"stat": self._path(args)}, checksum=False))

    def _items(self, args: dict[str, Any]) -> list[tuple[str, str]]:
        items = []
        for arg, key in REPO_KEYS.items():
            value = args.get(arg)
            if value is None:
                continue
            if isinstance(value, bool):
                value = "1" if value else "0"
            elif isinstance(value, list):
                value = ("\n       " if arg in ("baseurl", "gpgkey") else " ").join(value)
            items.append((key, str(value)))
        return sorted(items, key=lambda kv: kv[0])

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        stdout = probe.stdout if probe else ""
        raw = sections(stdout).get("content", "ABSENT").strip()
        cur = stats_from(stdout).get("stat", {"exists": False})
        exists = raw != "ABSENT"
        before = base64.b64decode(raw).decode() if exists and raw else ""
        data = parse_repo_file(before)
        path = self._path(args)
        if args["state"] == "present":
            items = self._items(args)
            for i, (name, _old) in enumerate(data):
                if name == args["name"]:
                    data[i] = (name, items)
                    break
            else:
                data.append((args["name"], items))
        else:
            data = [(n, it) for n, it in data if n != args["name"]]
        after = render_repo_file(data) if data else ""
        diff = {"before": before, "after": after, "before_header": path, "after_header": path}
        # Ansible's result holds the file's content diff always (not only under --diff), also when only the
        # file's attributes change
        result = {"repo": args["name"], "state": args["state"], "diff": diff}
        if not data:
            if exists:
                return Plan(True, [Command(f"rm -f {q(path)}")], diff=diff, result=result)
            return Plan(False, result=result)
        if after == before:
            steps, attr_before, attr_after = attribute_steps(path, cur, args.get("mode"), args.get("owner"),
                                                             args.get("group"))
            if steps:
                return Plan(True, steps, diff={"before": attr_before, "after": attr_after, "before_header": path,
                                               "after_header": path}, result=result)
            return Plan(False, result=result)
        mode = args.get("mode") or ("0644" if not exists else cur.get("mode"))
        return Plan(True, [Upload(after.encode(), path, mode=mode, owner=args.get("owner"), group=args.get("group"))],
                    diff=diff, result=result)

