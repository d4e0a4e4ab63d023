"""template: render a Jinja2 template on the controller and write it like copy does."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, ProbeResult, TaskContext
from hostprep.modules.copy import CopyModule


class TemplateModule(CopyModule):
    name = "template"
    doc = ("Render src (from the role's templates/ first) with the task's variables and write it to dest, "
           "atomically and only when the result differs.")
    examples = "- template:\n    src: daemon.json.j2\n    dest: /etc/docker/daemon.json\n    mode: '0644'\n"
    args = {
        **{k: v for k, v in CopyModule.args.items() if k not in ("content", "remote_src", "directory_mode",
                                                                  "checksum", "local_follow")},
        "src": Arg("path", required=True, doc="The template (role templates/, playbook templates/)."),
        "newline_sequence": Arg("str", default="\n", choices=("\n", "\r", "\r\n")),
        "output_encoding": Arg("str", default="utf-8"),
        "trim_blocks": Arg("bool", default=True),
        "lstrip_blocks": Arg("bool", default=False),
    }
    mutually_exclusive = ()
    required_one_of = ()

    def source_files(self, args: dict[str, Any], ctx: TaskContext | None) -> list[tuple[str, bytes | None]]:
        assert ctx is not None and ctx.find_file is not None and ctx.render_file is not None
        path = ctx.find_file(args["src"], "templates")
        text = ctx.render_file(path)
        if args["newline_sequence"] != "\n":
            text = text.replace("\n", args["newline_sequence"])
        return [("", text.encode(args["output_encoding"]))]

    def _dest_for(self, args: dict[str, Any], rel: str, dest_kind: str) -> str:
        dest = args["dest"]
        if dest.endswith("/") or dest_kind == "directory":
            import posixpath

            name = posixpath.basename(args["src"])
            return posixpath.join(dest, name[:-3] if name.endswith(".j2") else name)
        return dest

    def probe(self, args: dict[str, Any]) -> str | None:
        return super().probe({**args, "remote_src": False})

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext):  # noqa: ANN201
        return super().plan({**args, "content": None, "remote_src": False, "checksum": None}, probe, ctx)
