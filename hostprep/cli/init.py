"""`hostprep init [DIR]`: a starter project that uses the roles hostprep ships, made in any directory.

A pip-installed hostprep has no checkout to copy from, so the starter is package data
(hostprep/cli/starter/). Nothing is overwritten: every file is checked before the first is written,
so a refused init leaves the directory as it was.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import click

from hostprep.errors import InputError

STARTER = Path(__file__).resolve().parent / "starter"
SKIPPED = ("__pycache__", "__init__.py")


def starter_files() -> dict[Path, bytes]:
    """Relative path -> content of every file of the starter project."""
    files: dict[Path, bytes] = {}
    # followlinks: in a checkout starter/molecule links to the repository's molecule/ (a wheel holds copies)
    for root, dirs, names in os.walk(STARTER, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED and not d.startswith("."))
        for name in sorted(names):
            if name not in SKIPPED and not name.startswith("."):
                path = Path(root) / name
                files[path.relative_to(STARTER)] = path.read_bytes()
    return files


def write_starter(target: Path) -> list[Path]:
    """Write the starter into `target` (made if missing); refuse, naming the file, if any file exists."""
    files = starter_files()
    if target.exists() and not target.is_dir():
        raise InputError("not a directory: hostprep init writes a project directory", file=str(target))
    for rel in files:
        dest = target / rel
        if dest.exists() or dest.is_symlink():
            raise InputError("already exists; hostprep init never overwrites a file (nothing was written)",
                             file=str(dest))
    written = []
    for rel, content in files.items():
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "xb") as handle:  # "x": a file made meanwhile is still not overwritten
            handle.write(content)
        written.append(dest)
    return written


@click.command("init")
@click.argument("directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
def command(directory: Path) -> None:
    """Make a starter project in DIRECTORY (default: here): site.yml, an example inventory, templates/."""
    written = write_starter(directory)
    for path in written:
        click.echo(f"created {path}")
    where = "" if directory == Path(".") else f"cd {directory} && "
    click.echo(f"\nNext: {where}hostprep apply -i inventories/example site.yml --check --diff"
               " (README.md there shows a run on a local lab host)")
    if importlib.util.find_spec("molecule") is None:
        click.echo("molecule/ holds Molecule scenarios; Molecule is not installed: pip install 'hostprep[molecule]'")
