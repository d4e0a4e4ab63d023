"""Build the single-file zipapp that hosts get: `python -m hostprep.runtime.build OUT.pyz`."""

import os
import shutil
import sys
import tempfile
import zipapp

HERE = os.path.dirname(os.path.abspath(__file__))


def build(out):
    work = tempfile.mkdtemp(prefix="hostprep-runtime-build-")
    try:
        pkg = os.path.join(work, "hostprep")
        os.makedirs(os.path.join(pkg, "runtime"))
        with open(os.path.join(pkg, "__init__.py"), "w") as handle:
            handle.write('"""hostprep (runtime only)."""\n')
        for name in sorted(os.listdir(HERE)):
            if name.endswith(".py") and name != "build.py":
                shutil.copy(os.path.join(HERE, name), os.path.join(pkg, "runtime", name))
        with open(os.path.join(work, "__main__.py"), "w") as handle:
            handle.write("import sys\nfrom hostprep.runtime.cli import main\nsys.exit(main())\n")
        zipapp.create_archive(work, out, interpreter="/usr/bin/env python3", compressed=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m hostprep.runtime.build OUT.pyz", file=sys.stderr)
        sys.exit(2)
    print(build(sys.argv[1]))
