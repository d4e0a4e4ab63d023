"""Build lab RPMs with rpmbuild from file trees, and sign them with the lab key."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from hostprep.errors import HostprepError
from hostprep.lab.packages.catalog import Package

SPEC = """Name: {name}
Version: {version}
Release: {release}
{epoch}Summary: {summary}
License: various (see the Debian packages the files come from)
BuildArch: {arch}
AutoReqProv: no
{relations}
%description
{summary}
Built by hostprep's lab from files of Debian packages, for offline tests only.

%install
mkdir -p %{{buildroot}}
cp -a {tree}/. %{{buildroot}}/

{pre}{post}%files
{files}
"""


def _spec(pkg: Package, tree: Path, paths: list[str]) -> str:
    relations = []
    for key, values in (("Requires", pkg.requires), ("Provides", pkg.provides), ("Conflicts", pkg.conflicts),
                        ("Obsoletes", pkg.obsoletes)):
        relations += [f"{key}: {v}" for v in values]
    pre = f"%pre -p <lua>\n{pkg.pre_lua.strip()}\n\n" if pkg.pre_lua else ""
    post = f"%post -p <lua>\n{pkg.post_lua.strip()}\n\n" if pkg.post_lua else ""
    files = "\n".join(f'{pkg.attrs[p]} "{p}"' if p in pkg.attrs else f'"{p}"' for p in paths)
    return SPEC.format(name=pkg.name, version=pkg.version, release=pkg.release,
                       epoch=f"Epoch: {pkg.epoch}\n" if pkg.epoch is not None else "",
                       summary=pkg.summary or pkg.name, arch=pkg.arch, relations="\n".join(relations), tree=tree,
                       pre=pre, post=post, files=files)


def make_tree(pkg: Package, tree: Path, debs: dict[str, Path], key_text: str) -> list[str]:
    """Lay out the package's files under `tree`; returns the paths for %files.

    Kinds: ("deb", "pkg:path") one file of an extracted source; ("tree", "src:path") a file, link or
    directory copied as it is (a directory is packaged whole); ("link", target) a symlink;
    ("text", content); ("key", "") the lab's public key; ("dir", "") an empty directory.
    """
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    paths = []
    for dest, (kind, detail) in sorted(pkg.files.items()):
        target = tree / dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if kind == "tree":  # a file, link or whole directory of a source tree, as it is there
            src_name, _, inner = detail.partition(":")
            source = debs[src_name] / inner
            if source.is_symlink():
                os.symlink(os.readlink(source), target)
            elif source.is_dir():
                shutil.copytree(source, target, symlinks=True)
            elif source.exists():
                shutil.copy2(source, target)
            else:
                raise HostprepError(f"lab package {pkg.name}: {inner} not found in {src_name}")
            paths.append(dest)
            continue
        if kind == "debtree":  # every file of an extracted .deb (see _copy_debtree)
            paths += _copy_debtree(debs[detail], tree, pkg.skip)
            continue
        if kind == "dir":  # an empty directory (owned by the package: give it an attrs entry)
            target.mkdir(parents=True, exist_ok=True)
            paths.append(dest)
            continue
        if kind == "link":
            os.symlink(detail, target)
            paths.append(dest)
            continue
        if kind == "deb":
            deb_name, _, inner = detail.partition(":")
            source = debs[deb_name] / inner
            if source.is_symlink():
                source = source.resolve()
            if not source.exists():
                raise HostprepError(f"lab package {pkg.name}: {inner} not found in the {deb_name} package")
            shutil.copy2(source, target)
        elif kind == "text":
            target.write_text(detail)
        elif kind == "key":
            target.write_text(key_text)
        os.chmod(target, pkg.modes.get(dest, 0o755 if kind == "deb" else 0o644))
        paths.append(dest)
    return paths


_DEBTREE_SKIP = ("usr/share/doc/", "usr/share/man/", "usr/share/lintian/", "usr/share/locale/",
                 "usr/share/zsh/", "usr/share/bash-completion/")


def _copy_debtree(source: Path, tree: Path, skip: tuple[str, ...] = ()) -> list[str]:
    """Copy a .deb's files into `tree` at merged-/usr paths; returns them for %files.

    Debian's /lib, /bin and /sbin paths go under /usr (a lab host's /lib is a link there), and the
    scripts of Python programs run the lab's private interpreter (pythons.LAB_PYTHON), like dnf.
    """
    from hostprep.lab.packages.pythons import LAB_PYTHON

    out = []
    for path in sorted(source.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            continue
        rel = path.relative_to(source).as_posix()
        if rel.startswith(("lib/", "bin/", "sbin/")):
            rel = "usr/" + rel
        if rel.startswith(_DEBTREE_SKIP) or rel.startswith("DEBIAN/") or (skip and rel.startswith(skip)):
            continue
        target = tree / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            os.symlink(os.readlink(path), target)
        else:
            shutil.copy2(path, target)
            if rel.startswith(("usr/bin/", "usr/sbin/")):
                data = target.read_bytes()
                first, sep, rest = data.partition(b"\n")
                if first.startswith(b"#!") and b"python3" in first:
                    target.write_bytes(f"#!{LAB_PYTHON}".encode() + sep + rest)
        out.append("/" + rel)
    return out


def rpmbuild(pkg: Package, tree: Path, paths: list[str], workdir: Path, outdir: Path) -> Path:
    """Build one RPM (fast gzip payload, no stripping or build-id links); returns its path."""
    spec_path = workdir / f"{pkg.name}-{pkg.version}-{pkg.release}.spec"
    spec_path.write_text(_spec(pkg, tree, paths))
    top = workdir / "top"
    for sub in ("BUILD", "BUILDROOT", "RPMS", "SOURCES", "SPECS", "SRPMS"):
        (top / sub).mkdir(parents=True, exist_ok=True)
    cmd = [
        "rpmbuild", "-bb", "--quiet", f"--define=_topdir {top}", f"--define=_rpmdir {outdir}",
        "--define=_binary_payload w1.gzdio", "--define=__os_install_post %{nil}",
        "--define=debug_package %{nil}", "--define=_build_id_links none", "--define=_rpmfilename "
        "%%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm", str(spec_path),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise HostprepError(f"rpmbuild {pkg.name} failed: {proc.stderr[-2000:]}")
    out = outdir / f"{pkg.name}-{pkg.version}-{pkg.release}.{pkg.arch}.rpm"
    if not out.exists():
        raise HostprepError(f"rpmbuild {pkg.name}: {out.name} was not written")
    return out


def sign(rpms: list[Path], gnupghome: Path, key_name: str) -> None:
    """Sign RPMs in place with the lab key (rpmsign uses gpg with our GNUPGHOME)."""
    env = dict(os.environ, GNUPGHOME=str(gnupghome))
    for batch in range(0, len(rpms), 50):
        cmd = ["rpmsign", "--addsign", f"--define=_gpg_name {key_name}", f"--define=_gpg_path {gnupghome}",
               "--define=__gpg /usr/bin/gpg", *map(str, rpms[batch:batch + 50])]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise HostprepError(f"rpmsign failed: {proc.stderr[-1500:]}")
