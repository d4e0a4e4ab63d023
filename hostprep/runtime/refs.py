"""Names and references as Docker reads them: container names, image references, lookups by name or ID prefix,
and the atomic reservation of a container name.

- A container name is `[a-zA-Z0-9][a-zA-Z0-9_.-]+` (Docker's pattern: two characters at least; a leading `/`
  is dropped, as Docker does).
- An image reference follows the distribution reference grammar: `[host[:port]/]path[:tag][@algo:hex]`, the
  path lowercase components of `[a-z0-9]+` joined by `.`, `_`, `__` or dashes, a tag `[A-Za-z0-9_][\\w.-]{0,127}`.
- A lookup takes an exact ID, then an exact name, then a unique ID prefix; an empty or ambiguous prefix is
  refused (never "the first match").
- A name is reserved by creating ROOT/names/NAME with O_EXCL under an flock: of two concurrent `run --name x`,
  exactly one gets it. The file names the container and the process that reserved it; a reservation whose
  container directory is gone and whose reserving process has ended is stale and taken over.
"""

import os

NAME_RULE = "[a-zA-Z0-9][a-zA-Z0-9_.-]+"
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_NAME_CHARS = _ALNUM | frozenset("_.-")
_HEXDIGITS = frozenset("0123456789abcdef")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = r"(?:{p}(?:\.{p})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?".format(p=_DOMAIN_PART)
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = r"\A(?:(?P<domain>{d})/)?(?P<path>{c}(?:/{c})*)(?::(?P<tag>{t}))?(?:@(?P<digest>{g}))?\Z".format(
    d=_DOMAIN, c=_COMPONENT, t=_TAG, g=_DIGEST)
REF_RULE = ("[HOST[:PORT]/]NAME[:TAG][@sha256:HEX], NAME lowercase letters and digits separated by '.', '_', '__' "
            "or '-' (components joined by '/'), TAG up to 128 of [A-Za-z0-9_.-] not starting with '.' or '-'")


class InvalidReference(ValueError):
    """A name or reference that breaks Docker's rules (a ValueError: the CLI reports it with exit code 125)."""


def _shown(value):
    return repr(value)  # quoted, so an empty string, spaces or a newline can be seen


def check_container_name(name):
    """The name Docker would store (a leading '/' dropped); InvalidReference with the rule otherwise."""
    bare = name[1:] if name.startswith("/") else name
    if len(bare) < 2 or len(bare) > 253 or bare[0] not in _ALNUM or not _NAME_CHARS.issuperset(bare):
        raise InvalidReference("invalid container name {}: only {} are allowed (at least two characters, at most "
                              "253)".format(_shown(name), NAME_RULE))
    return bare


def parse_image_ref(ref, allow_digest=True):
    """(domain or None, path, tag or None, digest or None) of a reference; InvalidReference naming the rule."""
    if not isinstance(ref, str) or ref == "":
        raise InvalidReference("invalid reference format: the image reference is empty ({})".format(REF_RULE))
    import re  # not at import time: `re` costs milliseconds and `run` only needs it for a name it cannot find

    m = re.match(_REFERENCE, ref)
    if not m:
        lowered = re.match(_REFERENCE, ref.lower()) if ref != ref.lower() else None
        why = "repository name must be lowercase" if lowered else "it does not match " + REF_RULE
        raise InvalidReference("invalid reference format {}: {}".format(_shown(ref), why))
    domain, path = m.group("domain"), m.group("path")
    if domain is not None and not ("." in domain or ":" in domain or domain == "localhost" or
                                   domain != domain.lower()):
        path, domain = domain + "/" + path, None  # "library/x": the first component is part of the path
    if len((domain + "/" if domain else "") + path) > 255:
        raise InvalidReference("invalid reference format {}: the repository name is longer than 255 characters"
                              .format(_shown(ref)))
    if m.group("digest") and not allow_digest:
        raise InvalidReference("invalid reference {}: a digest cannot name a new image".format(_shown(ref)))
    if m.group("digest") and not m.group("digest").startswith("sha256:"):
        raise InvalidReference("unsupported digest in {}: only sha256".format(_shown(ref)))
    return domain, path, m.group("tag"), m.group("digest")


def check_image_name(ref):
    """A reference usable as the name of an image this runtime stores (no digest); returns it with its tag."""
    domain, path, tag, _ = parse_image_ref(ref, allow_digest=False)
    return (domain + "/" if domain else "") + path + ":" + (tag or "latest")


def is_id_prefix(ref):
    """Could `ref` be (the start of) an ID: 1-64 lowercase hex digits, optionally after 'sha256:'."""
    hexd = ref[7:] if ref.startswith("sha256:") else ref
    return 0 < len(hexd) <= 64 and _HEXDIGITS.issuperset(hexd)


def find_container(states, ref):
    """The state of the container `ref` names: exact ID, exact name, then a unique ID prefix."""
    if not ref:
        raise InvalidReference("no container given: an empty name or ID prefix matches nothing")
    for state in states:
        if state.get("id") == ref:
            return state
    for state in states:
        if state.get("name") == ref or "/" + state.get("name", "") == ref:
            return state
    matches = [s for s in states if is_id_prefix(ref) and s.get("id", "").startswith(ref)]
    if len(matches) > 1:
        raise InvalidReference("container ID prefix {} is ambiguous: it matches {}".format(
            ref, ", ".join(sorted(s["id"] for s in matches))))
    if matches:
        return matches[0]
    return None


# -- name reservations ----------------------------------------------------------------------------------------
def _names_dir(root):
    path = os.path.join(root, "names")
    os.makedirs(path, exist_ok=True)
    return path


class NameInUse(InvalidReference):
    """Another container holds the name."""


def _reservation(path):
    """(cid, reserver pid, reserver start time) of a name file; None when there is none.

    The file holds the container ID on its first line and, on its second, the pid and kernel start time of the
    process that reserved it (files from before the second line read as having no live reserver).
    """
    try:
        with open(path) as handle:
            lines = handle.read().split("\n")
    except FileNotFoundError:
        return None
    pid = started = None
    fields = lines[1].split() if len(lines) > 1 else []
    if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
        pid, started = int(fields[0]), int(fields[1])
    return lines[0].strip(), pid, started


def _holder(path):
    found = _reservation(path)
    return None if found is None else found[0]


def _held(root, path):
    """The live holder of a name file, or None when there is no file or it is stale.

    A reservation is live while its container directory exists, or while the process that made it still runs
    (a run between reserving its name and making its directory must not lose the name to a second run that
    would take the missing directory for a run killed before it cleaned up).
    """
    from hostprep.runtime.procinfo import alive, start_time

    found = _reservation(path)
    if found is None:
        return None
    cid, pid, started = found
    if cid and os.path.isdir(os.path.join(root, "containers", cid)):
        return cid
    if pid is not None and alive(pid) and start_time(pid) == started:
        return cid
    return None


def reserve_name(root, name, cid):
    """Reserve `name` for container `cid`; NameInUse when a live container holds it.

    The whole check-and-create runs under an exclusive flock of ROOT/names/.lock, so a stale reservation (its
    container directory gone: a run killed before it cleaned up) is taken over by exactly one caller; the file
    itself is made with O_EXCL, so even a caller that ignores the lock cannot take a held name.
    """
    import fcntl

    from hostprep.runtime.procinfo import start_time

    name = check_container_name(name)
    base = _names_dir(root)
    lock = os.open(os.path.join(base, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = os.path.join(base, name)
        holder = _held(root, path)
        if holder is not None:
            raise NameInUse("the container name {!r} is already in use by container {}".format(name, holder))
        if os.path.lexists(path):
            os.unlink(path)  # stale
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, "{}\n{} {}\n".format(cid, os.getpid(), start_time(os.getpid())).encode())
        finally:
            os.close(fd)
    finally:
        os.close(lock)  # releases the flock
    return name


def release_name(root, name, cid):
    """Drop `name`'s reservation if `cid` holds it (never another container's)."""
    path = os.path.join(root, "names", name)
    if _holder(path) == cid:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def sweep_names(root):
    """Remove the reservations whose container directory is gone (a --rm container of `run -d`, a run killed
    before it cleaned up); returns their names. Under the same lock as reserve_name."""
    import fcntl

    base = os.path.join(root, "names")
    if not os.path.isdir(base):
        return []
    swept = []
    lock = os.open(os.path.join(base, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name in os.listdir(base):
            if name.startswith("."):
                continue
            path = os.path.join(base, name)
            if os.path.lexists(path) and _held(root, path) is None:
                os.unlink(path)
                swept.append(name)
    finally:
        os.close(lock)
    return swept
