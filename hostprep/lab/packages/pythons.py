"""The EL releases' own Pythons as lab RPMs, made from the pyenv builds on this machine.

A real CentOS 7 has /usr/bin/python 2.7 and offers python3 3.6; EL8 has /usr/libexec/platform-python
3.6 and offers python36 and python39; EL9 has python3 3.9. No CentOS mirror is reachable, so the
interpreters come from pyenv's builds of 2.7.18, 3.6.15 and 3.9.18 (the nearest releases the machine
has), relocated to EL's paths: binaries in /usr/bin (or /usr/libexec), libpython in /usr/lib64 (the
binaries' RUNPATH is rewritten to it), the standard library in /usr/lib/pythonX.Y (where an
unpatched CPython looks for it; EL's own build uses /usr/lib64/pythonX.Y). Test suites, idle,
tkinter, static libraries and headers are left out to keep the RPMs small; pip and setuptools are
packaged apart, as on EL. `stage()` makes those trees; `python_packages()` says which RPM holds what.

EL's Pythons hold the package manager's bindings (python3-dnf, rpm-python); the lab's dnf is
Debian's, whose bindings work only in Debian's Python (kept privately at LAB_PYTHON). Each release's
system Python therefore gets small `dnf` and `rpm` stand-ins (package hostprep-lab-respawn): outside
Ansible they fail to import as a Python without the bindings would; inside an Ansible module they
re-run that module under LAB_PYTHON, which is what Ansible's own modules do when the bindings live
in another interpreter (ansible.module_utils.common.respawn).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from hostprep.errors import HostprepError
from hostprep.lab.packages.catalog import Package

PYENV = Path(os.environ.get("HOSTPREP_LAB_PYENV", "/root/.pyenv/versions"))
VERSIONS = {"2.7": "2.7.18", "3.6": "3.6.15", "3.9": "3.9.18"}
# where the lab's own tools (dnf, the yum wrapper, firewalld) find their interpreter: Debian's python3
LAB_PYTHON = "/usr/libexec/hostprep-lab/python3"

# standard-library parts a server install does without (EL ships them in -test, -idle, -tkinter, -devel)
_DROP_DIRS = {"test", "tests", "idlelib", "tkinter", "lib-tk", "turtledemo", "__phello__"}
_DROP_SUFFIXES = (".a", ".pyo")
_DROP_PREFIXES = ("_tkinter", "_testcapi", "_testbuffer", "_testimportmultiple", "_testmultiphase",
                  "_ctypes_test", "_xxtestfuzz", "xxlimited")
_SITE_SKIP = {"README", "README.txt", "__pycache__"}

SHIM = '''"""hostprep lab: stand-in for EL's {what} in this interpreter (package hostprep-lab-respawn).

The lab's package manager is Debian's dnf, whose Python bindings work only in the lab's private
interpreter ({lab_python}). Inside an Ansible module this re-runs the module there, as Ansible does
itself when it finds the bindings in another interpreter (ansible.module_utils.common.respawn; from
Python 2 with a payload of its own, because Ansible's cannot carry Python 2 arguments to Python 3);
anywhere else the import fails, as it does in a Python that lacks the bindings.
"""
import sys as _sys


def _respawn_ansible_module():
    import base64
    import os
    import subprocess

    main = _sys.modules.get("__main__")
    fqn = getattr(main, "_module_fqn", None)
    if fqn is None or fqn.endswith(".yum") or getattr(main, "_respawned", False):
        return  # not an Ansible module, the yum 3 module (no lab Python has yum's API), or already re-run
    try:
        from ansible.module_utils import basic
    except ImportError:
        return
    args = getattr(basic, "_ANSIBLE_ARGS", None)
    if not args:
        return  # imported before the module read its arguments: nothing to hand over
    if _sys.version_info[0] >= 3:  # Ansible's own respawn (its payload changes between releases)
        from ansible.module_utils.common.respawn import respawn_module
        respawn_module("{lab_python}")
    if not isinstance(args, bytes):
        args = args.encode("utf-8")
    code = "\\n".join([
        "import base64, runpy, sys",
        "sys.path.insert(0, %r)" % str(main._modlib_path),
        "from ansible.module_utils import basic",
        "basic._ANSIBLE_ARGS = base64.b64decode(%r)" % str(base64.b64encode(args).decode("ascii")),
        "runpy.run_module(%r, init_globals=dict(_respawned=True), run_name='__main__', alter_sys=True)" % str(fqn),
    ])
    read_end, write_end = os.pipe()
    os.write(write_end, code.encode("utf-8"))
    os.close(write_end)
    _sys.exit(subprocess.call(["{lab_python}", "--"], stdin=read_end))


_respawn_ansible_module()
raise ImportError("No module named {name} (hostprep lab: {what} exist only in {lab_python})")
'''

PIP_SCRIPT = """#!{python}
# hostprep lab: pip's console script, as EL's python{flavor}-pip installs it
import runpy
import sys

sys.argv[0] = {name!r}
runpy.run_module("pip", run_name="__main__", alter_sys=True)
"""


def _source(version: str) -> Path:
    full = VERSIONS[version]
    root = PYENV / full
    if not (root / "bin" / f"python{version}").exists():
        raise HostprepError(
            f"lab Python {version}: {root}/bin/python{version} is missing. The lab packages EL's Python "
            f"{version} from pyenv's build of {full}: run `pyenv install {full}` (or set HOSTPREP_LAB_PYENV "
            "to a directory holding it)")
    return root


def fingerprint() -> str:
    """What the staged trees are made from (for the repository's recipe hash)."""
    parts = []
    for version in sorted(VERSIONS):
        binary = _source(version) / "bin" / f"python{version}"
        parts.append(f"{binary} {binary.stat().st_size} {int(binary.stat().st_mtime)}")
    return "\n".join(parts)


def _ignore(directory: str, names: list[str]) -> set[str]:
    drop = set()
    for name in names:
        if name in _DROP_DIRS or name.endswith(_DROP_SUFFIXES) or name.startswith(_DROP_PREFIXES):
            drop.add(name)
        elif name == "_sandboxing_egress_ca.pth" or name.endswith(".pth") and "site-packages" in directory:
            drop.add(name)  # a machine-local .pth (e.g. a CA injector) is no part of EL's Python
    return drop


def _is_elf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def stage(version: str, dest: Path) -> Path:
    """Lay out pyenv's build of `version` at EL's paths under `dest`; site-packages apart in dest/site.

    dest/usr/bin/pythonX.Y, dest/usr/lib64/libpython*, dest/usr/lib/pythonX.Y (empty site-packages),
    dest/site/<pip, setuptools, ...>.
    """
    src = _source(version)
    if dest.exists():
        shutil.rmtree(dest)
    lib = dest / "usr/lib" / f"python{version}"
    shutil.copytree(src / "lib" / f"python{version}", lib, symlinks=True, ignore=_ignore)
    site = lib / "site-packages"
    shutil.move(str(site), str(dest / "site"))
    site.mkdir()
    for name in _SITE_SKIP:
        target = dest / "site" / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    lib64 = dest / "usr/lib64"
    lib64.mkdir(parents=True)
    for so in sorted((src / "lib").glob("libpython*.so*")):
        if not so.is_symlink() and so.name != f"libpython{version}.so":
            shutil.copy2(so, lib64 / so.name)
    bindir = dest / "usr/bin"
    bindir.mkdir(parents=True)
    shutil.copy2(src / "bin" / f"python{version}", bindir / f"python{version}")
    elves = [bindir / f"python{version}", *lib64.iterdir(), *(lib / "lib-dynload").glob("*.so")]
    subprocess.run(["strip", "--strip-debug", *map(str, elves)], check=True, capture_output=True)
    subprocess.run(["patchelf", "--set-rpath", "/usr/lib64", str(bindir / f"python{version}")], check=True,
                   capture_output=True)
    for elf in lib64.iterdir():
        if _is_elf(elf):
            subprocess.run(["patchelf", "--remove-rpath", str(elf)], check=True, capture_output=True)
    shims = dest / "shims"
    for name, what in (("dnf", "dnf's Python bindings (python3-dnf)"), ("rpm", "rpm's Python bindings")):
        (shims / name).mkdir(parents=True)
        (shims / name / "__init__.py").write_text(SHIM.format(name=name, what=what, lab_python=LAB_PYTHON))
    return dest


def stage_all(work: Path) -> dict[str, Path]:
    """Every interpreter staged under `work`, as trees keyed `python<X.Y>` (for catalog file sources)."""
    return {f"python{v}": stage(v, work / f"python{v}") for v in sorted(VERSIONS)}


def _site_items(tree: Path, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(p.name for p in (tree / "site").iterdir() if p.name.startswith(prefixes))


def _pip_version(tree: Path, project: str) -> str:
    info = next((tree / "site").glob(f"{project}-*.dist-info"), None)
    if info is None:
        raise HostprepError(f"{tree}: no {project} in the staged site-packages")
    return info.name[len(project) + 1:-len(".dist-info")]


def _tree_files(key: str, dest_dir: str, items: list[str]) -> dict[str, tuple[str, str]]:
    return {f"{dest_dir}/{item}": ("tree", f"{key}:site/{item}") for item in items}


def _scripts(python: str, flavor: str, names: list[str]) -> dict[str, tuple[str, str]]:
    return {f"/usr/bin/{n}": ("text", PIP_SCRIPT.format(python=python, flavor=flavor, name=n)) for n in names}


def python_packages(trees: dict[str, Path]) -> list[Package]:
    """The Python RPMs of each release (trees: the staged interpreters by `python<X.Y>`)."""
    pkgs: list[Package] = []

    def add(rel: str, name: str, version: str, files: dict, summary: str, repo: str = "base", **kw) -> None:
        modes = {dest: 0o755 for dest, (kind, _d) in files.items() if kind == "text" and dest.startswith("/usr/bin")}
        pkgs.append(Package(name=name, version=version, release=f"1.el{rel}.lab", releasevers=(rel,), repos=[repo],
                            files=files, modes=modes, summary=summary, **kw))

    def libs(rel: str, name: str, v: str) -> None:
        tree = trees[f"python{v}"]
        files = {f"/usr/lib/python{v}": ("tree", f"python{v}:usr/lib/python{v}")}
        # libpython3.so (the stable ABI) belongs to the release's main python3-libs only, as on EL8
        files.update({f"/usr/lib64/{so.name}": ("tree", f"python{v}:usr/lib64/{so.name}")
                      for so in (tree / "usr/lib64").iterdir() if so.name != "libpython3.so" or name == "python3-libs"})
        add(rel, name, VERSIONS[v], files, f"Python {v} standard library and libpython (pyenv build, lab)")

    def site(rel: str, name: str, v: str, project: str, prefixes: tuple[str, ...], requires: list[str],
             scripts: dict | None = None, repo: str = "base", **kw) -> None:
        tree = trees[f"python{v}"]
        files = _tree_files(f"python{v}", f"/usr/lib/python{v}/site-packages", _site_items(tree, prefixes))
        files.update(scripts or {})
        add(rel, name, _pip_version(tree, project), files, f"{project} for Python {v} (lab)", repo=repo,
            requires=requires, arch="noarch", **kw)

    def shims(rel: str, v: str, requires: str) -> None:
        files = {f"/usr/lib/python{v}/site-packages/{m}/__init__.py": ("tree", f"python{v}:shims/{m}/__init__.py")
                 for m in ("dnf", "rpm")}
        add(rel, "hostprep-lab-respawn", "1.0", files, "dnf/rpm stand-ins that re-run Ansible modules under the "
            "lab's package-manager Python", requires=[requires], arch="noarch")

    pip_prefixes = ("pip",)
    st_prefixes = ("setuptools", "pkg_resources", "easy_install", "_distutils_hack", "distutils-precedence")

    # EL7: python 2.7 installed; python3 3.6 in base; python2-pip in EPEL
    libs("7", "python-libs", "2.7")
    add("7", "python", VERSIONS["2.7"], {
        "/usr/bin/python2.7": ("tree", "python2.7:usr/bin/python2.7"), "/usr/bin/python2": ("link", "python2.7"),
        "/usr/bin/python": ("link", "python2")}, "Python 2.7 (pyenv build of 2.7.18, lab)",
        requires=["python-libs"], provides=["python2 = 2.7.18", "python(abi) = 2.7", "/usr/bin/python"])
    site("7", "python-setuptools", "2.7", "setuptools", st_prefixes, ["python"])
    # EPEL7 names it python2-pip (Provides: python-pip); the lab names it python-pip, because hostprep's
    # dnf module does not yet resolve a plain name through Provides (as dnf and yum do)
    site("7", "python-pip", "2.7", "pip", pip_prefixes, ["python", "python-setuptools"],
         _scripts("/usr/bin/python2.7", "2", ["pip", "pip2", "pip2.7"]), repo="epel", provides=["python2-pip"])
    shims("7", "2.7", "python")
    libs("7", "python3-libs", "3.6")
    add("7", "python3", VERSIONS["3.6"], {
        "/usr/bin/python3.6": ("tree", "python3.6:usr/bin/python3.6"), "/usr/bin/python3.6m": ("link", "python3.6"),
        "/usr/bin/python3": ("link", "python3.6")}, "Python 3.6 (pyenv build of 3.6.15, lab)",
        requires=["python3-libs", "python3-pip", "python3-setuptools"], provides=["python(abi) = 3.6", "python36"])
    site("7", "python3-setuptools", "3.6", "setuptools", st_prefixes, ["python3-libs"])
    site("7", "python3-pip", "3.6", "pip", pip_prefixes, ["python3", "python3-setuptools"],
         _scripts("/usr/bin/python3.6", "3", ["pip3", "pip3.6"]))

    # EL8: platform-python 3.6 installed; python36 (python3) and python39 in base
    libs("8", "python3-libs", "3.6")
    add("8", "platform-python", VERSIONS["3.6"], {
        "/usr/libexec/platform-python3.6": ("tree", "python3.6:usr/bin/python3.6"),
        "/usr/libexec/platform-python": ("link", "platform-python3.6")},
        "Python 3.6 for the system's own tools (pyenv build of 3.6.15, lab)", requires=["python3-libs"],
        provides=["platform-python(abi) = 3.6"])
    site("8", "platform-python-setuptools", "3.6", "setuptools", st_prefixes, ["platform-python"])
    site("8", "platform-python-pip", "3.6", "pip", pip_prefixes, ["platform-python", "platform-python-setuptools"])
    shims("8", "3.6", "platform-python")
    add("8", "python36", VERSIONS["3.6"], {
        "/usr/bin/python3.6": ("link", "/usr/libexec/platform-python3.6"), "/usr/bin/python3": ("link", "python3.6")},
        "Python 3.6 as python3 (lab)", requires=["platform-python", "python3-pip", "python3-setuptools"],
        provides=[f"python3 = {VERSIONS['3.6']}", "python(abi) = 3.6"])
    pkgs.append(Package(name="python3-setuptools", version=_pip_version(trees["python3.6"], "setuptools"),
                        release="1.el8.lab", releasevers=("8",), repos=["base"], arch="noarch",
                        requires=["platform-python-setuptools"], summary="setuptools for python3 (lab)",
                        files={"/usr/share/hostprep-lab/packages/python3-setuptools": ("text", "el8\n")}))
    add("8", "python3-pip", _pip_version(trees["python3.6"], "pip"),
        _scripts("/usr/bin/python3.6", "3", ["pip3", "pip-3", "pip3.6"]), "pip3 for python36 (lab)", arch="noarch",
        requires=["python36", "platform-python-pip"])
    libs("8", "python39-libs", "3.9")
    add("8", "python39", VERSIONS["3.9"], {"/usr/bin/python3.9": ("tree", "python3.9:usr/bin/python3.9")},
        "Python 3.9 (pyenv build of 3.9.18, lab)", requires=["python39-libs", "python39-pip", "python39-setuptools"],
        provides=["python(abi) = 3.9"])
    site("8", "python39-setuptools", "3.9", "setuptools", st_prefixes, ["python39-libs"])
    site("8", "python39-pip", "3.9", "pip", pip_prefixes, ["python39", "python39-setuptools"],
         _scripts("/usr/bin/python3.9", "39", ["pip3.9"]))

    # EL9: python3 3.9 installed
    libs("9", "python3-libs", "3.9")
    add("9", "python3", VERSIONS["3.9"], {
        "/usr/bin/python3.9": ("tree", "python3.9:usr/bin/python3.9"), "/usr/bin/python3": ("link", "python3.9")},
        "Python 3.9 (pyenv build of 3.9.18, lab)", requires=["python3-libs"],
        provides=["python3.9", "python(abi) = 3.9"])
    site("9", "python3-setuptools", "3.9", "setuptools", st_prefixes, ["python3"])
    site("9", "python3-pip", "3.9", "pip", pip_prefixes, ["python3", "python3-setuptools"],
         _scripts("/usr/bin/python3.9", "3", ["pip3", "pip", "pip3.9"]))
    shims("9", "3.9", "python3")
    return pkgs


# what each release's image has installed from the above (the rest is in the repositories)
INSTALLED = {
    "7": ["python", "python-libs", "hostprep-lab-respawn"],
    "8": ["platform-python", "python3-libs", "platform-python-pip", "platform-python-setuptools",
          "hostprep-lab-respawn"],
    "9": ["python3", "python3-libs", "hostprep-lab-respawn"],
}
