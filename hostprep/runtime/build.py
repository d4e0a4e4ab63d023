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
# every file of the archive gets this mtime, so a build is byte-for-byte reproducible: hosts that got the same
# sources have the same checksum (roles/runtime compares checksums to decide an upgrade)
FIXED_MTIME = 946684800
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
            os.utime(src, (FIXED_MTIME, FIXED_MTIME))  # the same sources make the same bytes (and .pyc)
            if arc != "__main__.py":
                args += [src, src + "c", arc]
        # the interpreter named for the hosts need not exist here (roles/runtime names a link it makes on each host)
        compiler = python if python and os.access(python, os.X_OK) else sys.executable
        subprocess.run([compiler, "-I", "-S", "-c", COMPILE] + args, check=True)
        for arc in sources:
            for path in (os.path.join(work, arc), os.path.join(work, arc + "c")):
                if os.path.exists(path):
                    os.utime(path, (FIXED_MTIME, FIXED_MTIME))
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


def content_key(python=None):
    """What a build depends on: the runtime's sources, the first lines and the interpreter that compiles here."""
    import hashlib

    digest = hashlib.sha256(prelude(python))
    digest.update(sys.version.encode())
    for name in sorted(os.listdir(HERE)):
        if name.endswith(".py"):
            with open(os.path.join(HERE, name), "rb") as handle:
                digest.update(name.encode() + b"\0" + handle.read() + b"\0")
    return digest.hexdigest()


def build_cached(out, python=None):
    """`build`, unless OUT was built from the same content (its key is kept in OUT.key): one build per change."""
    key = content_key(python)
    try:
        with open(out + ".key") as handle:
            if handle.read().strip() == key and os.path.isfile(out):
                return out
    except OSError:
        pass
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    build(out, python)
    with open(out + ".key.tmp", "w") as handle:
        handle.write(key + "\n")
    os.replace(out + ".key.tmp", out + ".key")
    return out


if __name__ == "__main__":
    argv = sys.argv[1:]
    cached = "--cached" in argv
    if cached:
        argv.remove("--cached")
    interpreter = None
    if len(argv) == 3 and argv[1] == "--python":
        interpreter = argv[2]
        argv = argv[:1]
    if len(argv) != 1:
        print("usage: python -m hostprep.runtime.build [--cached] OUT.pyz [--python /path/to/python3]",
              file=sys.stderr)
        sys.exit(2)
    print((build_cached if cached else build)(argv[0], interpreter))
