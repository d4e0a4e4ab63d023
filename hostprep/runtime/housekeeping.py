"""Removing images and containers, and what they take on disk: `rmi`, `tag`, `image prune`, `container prune`
and `system df`, with Docker's rules and wording.

- `rmi NAME` untags; the image's blobs and unpacked layers go once no name and no container uses them (a blob
  or layer shared with another image stays). An image a container was made from is refused without -f (then
  only its names go; its data stays while the container exists).
- `rmi ID` removes every name of the image, refused without -f when it has several.
- `image prune` removes what no image names (left by `rmi -f` of a used image once its containers are gone,
  or by an interrupted import); `-a` also every image no container uses.
- `container prune` removes every container that is not running.
"""

import os

from hostprep.runtime import jsonio
from hostprep.runtime.store import ImageError, disk_usage, normalize_ref


class Conflict(ImageError):
    """Docker's `conflict:` errors: the removal would take something still in use."""


def container_states(root):
    """Every container's state record as stored (no liveness check: enough to know which images they use)."""
    base = os.path.join(root, "containers")
    out = []
    try:
        names = sorted(os.listdir(base))
    except FileNotFoundError:
        return out
    for cid in names:
        try:
            with open(os.path.join(base, cid, "state.json"), "rb") as handle:
                out.append(jsonio.loads(handle.read()))
        except (OSError, ValueError):
            continue
    return out


def images_in_use(store, states):
    """{manifest digest: [container ids]} of the images containers were made from."""
    by_name = dict(store.images())
    used = {}
    for state in states:
        digest = state.get("image_id") or by_name.get(normalize_ref(state.get("image") or ""))
        if digest:
            used.setdefault(digest, []).append(state.get("id", "?"))
    return used


def rmi(store, root, refs_, force=False, out=None):
    """Remove images by name or ID (Docker's `rmi`); prints Untagged:/Deleted: lines."""
    import sys

    out = out or sys.stdout
    with store.lock():
        for ref in refs_:
            digest = store.lookup(ref)
            names = store.names_of(digest)
            users = images_in_use(store, container_states(root)).get(digest, [])
            short = digest[7:19]
            if normalize_ref(ref) in names:
                targets = [normalize_ref(ref)]
                if users and len(names) == 1 and not force:
                    raise Conflict("conflict: unable to remove repository reference {!r} (must force) - container "
                                   "{} is using its referenced image {}".format(ref, users[0][:12], short))
            else:
                targets = names
                if len(names) > 1 and not force:
                    raise Conflict("conflict: unable to delete {} (must be forced) - image is referenced in multiple "
                                   "repositories".format(short))
                if users and not force:
                    raise Conflict("conflict: unable to delete {} (cannot be forced) - image is being used by "
                                   "container {}".format(short, users[0][:12]))
            for name in targets:
                store.remove_ref(name)
                out.write("Untagged: {}\n".format(name))
            _collect(store, root, out)


def _collect(store, root, out, word="Deleted"):
    keep = list(images_in_use(store, container_states(root)))
    removed = store.gc(keep=keep)
    for what, _ in removed:
        if not what.startswith("layer "):
            out.write("{}: {}\n".format(word, what))
    return sum(size for _, size in removed)


def tag(store, source, target):
    from hostprep.runtime import refs

    name = refs.check_image_name(target)
    with store.lock():
        digest = store.lookup(source)
        store.set_ref(name, digest, os.path.getsize(store.blob_path(digest, verify=False)))


def image_prune(store, root, everything=False, out=None):
    import sys

    out = out or sys.stdout
    out.write("Deleted Images:\n")
    with store.lock():
        if everything:
            used = images_in_use(store, container_states(root))
            for name, digest in store.images():
                if digest not in used:
                    store.remove_ref(name)
                    out.write("untagged: {}\n".format(name))
        total = _collect(store, root, out, word="deleted")
    out.write("\nTotal reclaimed space: {}\n".format(human_size(total)))


def container_prune(root, remove, out=None):
    """Remove every container that is not running with `remove(root, id)` (the state module's)."""
    import sys

    from hostprep.runtime.state import list_states

    out = out or sys.stdout
    out.write("Deleted Containers:\n")
    total = 0
    for state in list_states(root):
        if state.get("status") == "running":
            continue
        size = disk_usage(os.path.join(root, "containers", state["id"]))
        remove(root, state["id"])
        total += size
        out.write(state["id"] + "\n")
    from hostprep.runtime.refs import sweep_names

    sweep_names(root)
    out.write("\nTotal reclaimed space: {}\n".format(human_size(total)))


def system_df(store, root, out=None):
    """Docker's `system df` table: images, containers (their writable layers), volumes and build cache."""
    import sys

    from hostprep.runtime.state import list_states

    out = out or sys.stdout
    states = list_states(root)
    used = images_in_use(store, states)
    images = store.images()
    digests = set(d for _, d in images)
    image_size = disk_usage(store.blobs) + disk_usage(store.layers)
    active_blobs, active_layers = store.referenced(keep=list(used), named=False)
    kept = sum(_blob_size(store, b) for b in active_blobs) + sum(
        disk_usage(os.path.join(store.layers, d[7:])) for d in active_layers)
    sizes = {s["id"]: disk_usage(os.path.join(root, "containers", s["id"])) for s in states}
    running = [s for s in states if s.get("status") == "running"]
    idle = sum(sizes[s["id"]] for s in states if s.get("status") != "running")
    rows = [("Images", len(digests), len([d for d in digests if d in used]), image_size,
             max(image_size - kept, 0)),
            ("Containers", len(states), len(running), sum(sizes.values()), idle),
            ("Local Volumes", 0, 0, 0, 0), ("Build Cache", 0, 0, 0, 0)]
    out.write("{:<16}{:<10}{:<10}{:<10}{}\n".format("TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"))
    for kind, total, active, size, reclaimable in rows:
        share = " ({}%)".format(int(100 * reclaimable / size)) if size else ""
        out.write("{:<16}{:<10}{:<10}{:<10}{}{}\n".format(kind, total, active, human_size(size),
                                                          human_size(reclaimable), share))


def _blob_size(store, digest):
    try:
        return os.lstat(os.path.join(store.blobs, digest[7:])).st_blocks * 512
    except OSError:
        return 0


def human_size(size):
    """Docker's (go-units) HumanSize: decimal units, four significant digits."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    value = float(size)
    i = 0
    while value >= 1000 and i < len(units) - 1:
        value /= 1000
        i += 1
    return "{:.4g}{}".format(value, units[i])
