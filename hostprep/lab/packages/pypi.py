"""The lab's Python package index (PEP 503) with lab-built wheels.

Lab hosts cannot reach PyPI, so the guide's `pip install docker-compose` needs a local index. The
lab builds a `docker-compose` wheel (version 2.26.1) that installs the Compose v2 binary from
Debian trixie's docker-compose package as the `docker-compose` command, written with the standard
library by the wheel format (PEP 427) with a RECORD of sha256 hashes.
"""

from __future__ import annotations

import base64
import hashlib
import html
import zipfile
from pathlib import Path

# py2 too: EL7's guide runs `pip install docker-compose` with Python 2.7's pip; manylinux1 is the
# platform tag every pip in the lab understands (pip 18.1 of EL's Python 3.6 predates manylinux_2_17)
TAG = "py2.py3-none-manylinux1_x86_64"
WHEEL_TAGS = ("py2-none-manylinux1_x86_64", "py3-none-manylinux1_x86_64")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_script_wheel(out_dir: Path, project: str, version: str, scripts: dict[str, bytes], summary: str) -> Path:
    """A wheel whose payload is executables in the `scripts` data directory."""
    dist = project.replace("-", "_")
    out_dir.mkdir(parents=True, exist_ok=True)
    whl = out_dir / f"{dist}-{version}-{TAG}.whl"
    info = f"{dist}-{version}.dist-info"
    entries: dict[str, bytes] = {f"{dist}-{version}.data/scripts/{name}": data for name, data in scripts.items()}
    entries[f"{info}/METADATA"] = (f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n"
                                   f"Summary: {summary}\n").encode()
    tags = "".join(f"Tag: {tag}\n" for tag in WHEEL_TAGS)
    entries[f"{info}/WHEEL"] = f"Wheel-Version: 1.0\nGenerator: hostprep-lab\nRoot-Is-Purelib: false\n{tags}".encode()
    record = [f"{path},sha256={_b64(data)},{len(data)}" for path, data in entries.items()]
    record.append(f"{info}/RECORD,,")
    with zipfile.ZipFile(whl, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for path, data in entries.items():
            zi = zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0))
            zi.external_attr = (0o100755 if "/scripts/" in path else 0o100644) << 16  # regular file + mode
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
        z.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return whl


def write_simple_index(root: Path, wheels: dict[str, list[Path]]) -> None:
    """root/simple/<project>/index.html linking root/packages/<wheel>#sha256=..."""
    simple = root / "simple"
    simple.mkdir(parents=True, exist_ok=True)
    links = []
    for project, files in sorted(wheels.items()):
        pdir = simple / project
        pdir.mkdir(exist_ok=True)
        anchors = []
        for f in files:
            digest = hashlib.sha256(f.read_bytes()).hexdigest()
            name = html.escape(f.name)
            anchors.append(f'<a href="../../packages/{name}#sha256={digest}">{name}</a>')
        page = "<!DOCTYPE html><html><body>\n" + "<br>\n".join(anchors) + "\n</body></html>\n"
        (pdir / "index.html").write_text(page)
        links.append(f'<a href="{project}/">{project}</a>')
    (simple / "index.html").write_text("<!DOCTYPE html><html><body>\n" + "<br>\n".join(links) + "\n</body></html>\n")
