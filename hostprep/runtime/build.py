"""Build the single-file zipapp that hosts get: `python -m hostprep.runtime.build OUT.pyz [--python PATH]`.

The file is a zip archive (so `python3 OUT.pyz ...` works as with any zipapp) whose first lines start the
interpreter the fast way when the file is executed directly:

- `python -I -S`: no site (site-packages, .pth files) and no environment variables, which the runtime (standard
  library only) does not need;
- `-c` code that puts the archive itself on sys.path and imports the CLI: running a zipapp the usual way goes
  through runpy, whose imports (importlib.util, contextlib, collections, ...) cost ~6 ms at every start;
- modules stored uncompressed (no zlib) with unchecked-hash .pyc files beside the sources, so nothing is
  compiled at start; an interpreter with another bytecode version falls back to the sources.

Without --python the first lines are a `#!/bin/sh` stanza that execs `python3` from PATH (portable to every host);
with --python PATH they are a `#!PATH -ISc...` line, which saves the shell.
"""

import os
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
BOOT = "import sys;del sys.argv[0];sys.path[:0]=sys.argv[:1];import hostprep.runtime.cli as c;sys.exit(c.main())"
MAIN = "import sys\nfrom hostprep.runtime.cli import main\nsys.exit(main())\n"
# unchecked-hash .pyc (PEP 552) exist from Python 3.7 on; a 3.6 interpreter gets timestamp .pyc, which it
# reads from a zip archive just as well (zipimport never rewrites them)
COMPILE = """
import py_compile, sys
mode = getattr(py_compile, "PycInvalidationMode", None)
extra = {"invalidation_mode": mode.UNCHECKED_HASH} if mode else {}
for src, dst, shown in zip(sys.argv[1::3], sys.argv[2::3], sys.argv[3::3]):
    py_compile.compile(src, dst, shown, doraise=True, **extra)
"""


def prelude(python=None):
    if python:
        line = "#!{} -ISc{}\n".format(python, BOOT)
        if len(line) > 255:
            raise ValueError("interpreter path too long for a #! line: {}".format(python))
        return line.encode()
    return "#!/bin/sh\nexec python3 -I -S -c '{}' \"$0\" \"$@\"\n".format(BOOT).encode()


def build(out, python=None):
    sources = {"hostprep/__init__.py": '"""hostprep (runtime only)."""\n', "__main__.py": MAIN}
    for name in sorted(os.listdir(HERE)):
        if name.endswith(".py") and name != "build.py":
            with open(os.path.join(HERE, name)) as handle:
                sources["hostprep/runtime/" + name] = handle.read()
    with tempfile.TemporaryDirectory(prefix="hostprep-runtime-build-") as work:
        args = []
        for arc, text in sources.items():
            src = os.path.join(work, arc)
            os.makedirs(os.path.dirname(src), exist_ok=True)
            with open(src, "w") as handle:
                handle.write(text)
            if arc != "__main__.py":
                args += [src, src + "c", arc]
        subprocess.run([python or sys.executable, "-I", "-S", "-c", COMPILE] + args, check=True)
        tmp = out + ".tmp"
        with open(tmp, "wb") as handle:
            handle.write(prelude(python))
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
                for arc in sources:
                    archive.write(os.path.join(work, arc), arc)
                    if arc != "__main__.py":
                        archive.write(os.path.join(work, arc + "c"), arc + "c")
        os.chmod(tmp, 0o755)
        os.replace(tmp, out)
    return out


if __name__ == "__main__":
    argv = sys.argv[1:]
    interpreter = None
    if len(argv) == 3 and argv[1] == "--python":
        interpreter = argv[2]
        argv = argv[:1]
    if len(argv) != 1:
        print("usage: python -m hostprep.runtime.build OUT.pyz [--python /path/to/python3]", file=sys.stderr)
        sys.exit(2)
    print(build(argv[0], interpreter))
