"""The noop12 role (roles/noop12/tasks/main.yml) as a pyinfra deploy: the same 12 steps, in order."""

from io import StringIO
from pathlib import Path

from pyinfra import host
from pyinfra.operations import files

d = host.data.noop_dir
TEMPLATE = str(Path(__file__).parent / "roles" / "noop12" / "templates" / "app.conf.j2")

files.directory(name="base directory", path=d, mode="755")
files.directory(name="conf.d directory", path=f"{d}/conf.d", mode="755")
files.put(name="a.conf", src=StringIO("# a\n"), dest=f"{d}/a.conf", mode="644")
files.put(name="b.conf", src=StringIO("# b\n"), dest=f"{d}/b.conf", mode="600")
files.put(name="c.conf", src=StringIO("value=1\n"), dest=f"{d}/conf.d/c.conf", mode="644")
files.template(name="app.conf from a template", src=TEMPLATE, dest=f"{d}/app.conf", mode="644",
               inventory_hostname=host.name, noop_dir=d)
files.line(name="a line", path=f"{d}/lines.conf", line="x=1")
files.line(name="a line by regexp", path=f"{d}/lines.conf", line="^y=", replace="y=2")
files.block(name="a block", path=f"{d}/block.conf", content="listen 127.0.0.1\nport 8080")
files.replace(name="replace", path=f"{d}/lines.conf", text="^mode=debug$", replace="mode=release")
files.link(name="a link", path=f"{d}/a.link", target=f"{d}/a.conf")
files.file(name="owner and mode of c.conf", path=f"{d}/conf.d/c.conf", user="root", mode="644")
