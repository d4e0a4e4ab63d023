"""`pip install hostprep` is the whole product: a wheel, installed into a fresh virtualenv outside the checkout,
runs a user's whole workflow from an empty directory with the checkout hidden.

How it stays honest and fast:
- The wheel is built from a copy of the source tree (never the checkout itself, whose ignored build/ could
  hold stale files), with `pip wheel --no-deps`.
- The virtualenv is a plain `python -m venv` of the base interpreter (not --system-site-packages, which would
  see the checkout's editable install); `pip install WHEEL` fetches hostprep's dependencies through pip's
  configured indexes, so the test also proves that the declared dependencies are enough (pytest and
  pytest-testinfra for `hostprep verify` among them).
- The workflow (init, lab up, apply twice, verify, lab down) runs in a mount namespace where an empty
  read-only tmpfs lies over the checkout: code that reads the checkout instead of the installed package
  (roles, suites, recipes, templates) fails there, as it would for a user without one.
  Mounts made in it never propagate back (`--propagation slave`), and the lab hosts are taken down inside it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from hostprep import __version__

ROOT = Path(__file__).resolve().parents[2]
SOURCE_PARTS = ("pyproject.toml", "README.md", "hostprep", "roles", "molecule")

# Runs inside the namespace with the wheel's virtualenv Python; imports nothing from hostprep itself.
DRIVER = textwrap.dedent('''
    import json, os, subprocess, sys, time
    checkout, venv, name, out = sys.argv[1:5]
    steps = []

    def run(step, *argv, want=(0,)):
        started = time.monotonic()
        proc = subprocess.run(list(argv), capture_output=True, text=True, stdin=subprocess.DEVNULL)
        steps.append({"step": step, "argv": list(argv), "rc": proc.returncode, "want": list(want),
                      "seconds": round(time.monotonic() - started, 2),
                      "stdout": proc.stdout[-5000:], "stderr": proc.stderr[-5000:]})
        if proc.returncode not in want:
            raise SystemExit(step + " failed")

    try:
        steps.append({"step": "checkout hidden", "entries": os.listdir(checkout)})
        run("version", "hostprep", "--version")
        run("runtime entry point", "hostprep-runtime", "--help")
        run("package path", os.path.join(venv, "bin", "python"), "-c",
            "import hostprep, hostprep.playbook.loader as l; print(hostprep.__file__); print(l.shipped_roles_dir())")
        run("lab recipes", os.path.join(venv, "bin", "python"), "-c",
            "from hostprep.lab import image, repo; print(image.image_dir('el9').name, repo.repo_dir().name)")
        run("init", "hostprep", "init", ".")
        run("init again", "hostprep", "init", ".", want=(3,))
        run("lab up", "hostprep", "lab", "up", "-n", "1", "--flavor", "el9", "--name", name,
            "--inventory", "inventories/lab/" + name + ".yml")
        run("apply", "hostprep", "apply", "--detailed-exitcode", "-i", "inventories/lab", "site.yml", want=(2,))
        run("apply again", "hostprep", "apply", "--detailed-exitcode", "-i", "inventories/lab", "site.yml")
        run("verify", "hostprep", "verify", "-i", "inventories/lab")
    finally:
        try:
            run("lab down", "hostprep", "lab", "down", "--name", name)
        finally:
            with open(out, "w") as handle:
                json.dump(steps, handle)
''')


def _copy_source(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyz", "*.egg-info", "build", "dist")
    dest.mkdir(parents=True)
    for part in SOURCE_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(src, dest / part)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hostprep's wheel, built from a copy of the source tree."""
    base = tmp_path_factory.mktemp("wheel")
    _copy_source(base / "src")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base / "dist"),
                           str(base / "src")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = (base / "dist").glob("hostprep-*.whl")
    return built


def test_wheel_holds_every_file_of_the_package(wheel: Path) -> None:
    """Data a part of hostprep reads (lab recipes, unit files, suites, ...) must be package data too."""
    names = set(zipfile.ZipFile(wheel).namelist())
    src = wheel.parent.parent / "src"
    files = {str(Path(root, f).relative_to(src)) for root, dirs, fs in os.walk(src / "hostprep", followlinks=True)
             for f in fs if not f.endswith((".pyc", ".pyz"))}
    assert "hostprep/roles/docker/tasks/main.yml" in files
    assert files <= names, f"not in the wheel (add them to package-data in pyproject.toml): {sorted(files - names)}"


def test_wheel_holds_every_shipped_role_and_the_starter(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    roles = {f"hostprep/roles/{p.relative_to(ROOT / 'roles')}" for p in (ROOT / "roles").rglob("*") if p.is_file()}
    assert roles and {n for n in roles if "/tasks/" in n}, "no role with tasks under roles/"
    assert roles <= names, sorted(roles - names)
    starter = ROOT / "hostprep" / "cli" / "starter"
    expected = {f"hostprep/cli/starter/{p.relative_to(starter)}"
                for p in starter.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    expected |= {f"hostprep/cli/starter/molecule/{p.relative_to(ROOT / 'molecule')}"
                 for p in (ROOT / "molecule").rglob("*") if p.is_file()}
    assert {"hostprep/cli/starter/site.yml", "hostprep/cli/starter/ansible.cfg"} <= expected
    assert expected <= names, sorted(expected - names)
    assert "hostprep/verify/suites/test_docker.py" in names
    meta = zipfile.ZipFile(wheel).read(f"hostprep-{__version__}.dist-info/METADATA").decode()
    requires = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    main = {r.split(">")[0].split("<")[0].split("=")[0].strip() for r in requires if "extra ==" not in r}
    assert {"pytest", "pytest-testinfra", "fabric", "jinja2"} <= main, requires
    assert any("molecule" in r and "extra == \"molecule\"" in r for r in requires), requires
    entry_points = zipfile.ZipFile(wheel).read(f"hostprep-{__version__}.dist-info/entry_points.txt").decode()
    assert "hostprep = hostprep.cli.main:main" in entry_points


@pytest.mark.lab
def test_installed_wheel_runs_the_workflow_with_the_checkout_hidden(wheel: Path, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        raise RuntimeError("this test needs root (a mount namespace and lab hosts): run the suite as root")
    base_python = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    for outside in (base_python, tmp_path.resolve()):
        assert ROOT not in outside.parents, f"{outside} is inside the checkout: the test would not hide it"
    timings: dict[str, float] = {}
    venv = tmp_path / "venv"
    started = time.monotonic()
    subprocess.run([str(base_python), "-m", "venv", str(venv)], check=True)
    proc = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-compile", str(wheel)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    timings["venv + pip install"] = round(time.monotonic() - started, 1)

    project = tmp_path / "project"
    project.mkdir()
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    results = tmp_path / "steps.json"
    name = f"pt{os.getpid() % 10000}-whl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    hide = f"mount -t tmpfs -o ro,size=64k,mode=0555 hostprep-checkout-hidden {ROOT}"
    command = ["unshare", "--mount", "--propagation", "slave", "sh", "-c", f'{hide} && exec "$@"', "sh",
               str(venv / "bin" / "python"), str(driver), str(ROOT), str(venv), name, str(results)]
    started = time.monotonic()
    try:
        proc = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=900)
    finally:
        from hostprep.lab.api import down

        down(name=name)  # a safety net only: the driver takes its host down inside the namespace
    timings["workflow"] = round(time.monotonic() - started, 1)
    assert (ROOT / "pyproject.toml").is_file(), "the tmpfs over the checkout leaked out of its mount namespace"
    steps = json.loads(results.read_text()) if results.exists() else []
    report = "\n".join(json.dumps(s)[:3000] for s in steps) + f"\nrc={proc.returncode}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, report
    by_step = {s["step"]: s for s in steps}
    assert by_step["checkout hidden"]["entries"] == [], report
    assert by_step["version"]["stdout"].strip() == f"hostprep, version {__version__}"
    package_file, roles_dir = by_step["package path"]["stdout"].split()
    assert package_file.startswith(str(venv)) and roles_dir.startswith(str(venv)), report
    # the lab's image and package repository recipes, read from the package, are the checkout's (same cache keys)
    from hostprep.lab import image, repo

    assert by_step["lab recipes"]["stdout"].split() == [image.image_dir("el9").name, repo.repo_dir().name], report
    assert "pip install 'hostprep[molecule]'" in by_step["init"]["stdout"], report
    assert "README.md: already exists" in by_step["init again"]["stderr"], report
    assert "PASS" in by_step["verify"]["stdout"] and "FAIL" not in by_step["verify"]["stdout"], report
    assert (project / "templates" / "motd.j2").is_file() and (project / "molecule" / "el9").is_dir()
    for s in steps:
        if "seconds" in s:
            timings[s["step"]] = s["seconds"]
    print("timings (s):", timings)
