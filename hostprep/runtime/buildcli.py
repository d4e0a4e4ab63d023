"""The CLI's `build`, `history` and `image inspect`: what they print, in Docker's words and fields."""

import json
import sys

from hostprep.runtime.store import ImageError

# Docker's image inspect Config, in its order and with its empty values
CONFIG_FIELDS = (("Hostname", ""), ("Domainname", ""), ("User", ""), ("AttachStdin", False),
                 ("AttachStdout", False), ("AttachStderr", False), ("ExposedPorts", None), ("Tty", False),
                 ("OpenStdin", False), ("StdinOnce", False), ("Env", None), ("Cmd", None), ("Healthcheck", None),
                 ("Image", ""), ("Volumes", None), ("WorkingDir", ""), ("Entrypoint", None), ("OnBuild", None),
                 ("Labels", None), ("StopSignal", None), ("Shell", None))


def main(opts, store, root):
    if opts.command == "build":
        return build(opts, store, root)
    if opts.command == "history":
        return history(opts, store)
    if opts.command == "builder":
        return builder_prune(store, root)
    return inspect(opts, store)


def build(opts, store, root):
    import signal

    from hostprep.runtime import builder

    def terminated(signum, frame):
        raise SystemExit(128 + signum)  # unwinds: the build container, mounts and work directory are removed
    signal.signal(signal.SIGTERM, terminated)
    try:
        b = builder.Builder(store, root, opts.context, dockerfile_path=opts.file,
                            build_args=builder.parse_build_args(opts.build_arg), target=opts.target,
                            no_cache=opts.no_cache, timestamp=opts.timestamp,
                            network=getattr(opts, "network", None) or "none")
        b.build(opts.tag)
    except builder.BuildError as exc:
        print("hostprep-runtime: build failed: {}".format(exc), file=sys.stderr)
        return 1
    return 0


def builder_prune(store, root):
    """Forget every cached build step, then remove the blobs and layers nothing else uses (Docker's `builder
    prune`): the cache otherwise keeps every layer it ever made."""
    import os

    from hostprep.runtime import housekeeping

    cache = os.path.join(root, "build-cache")
    with store.lock():
        steps = 0
        try:
            names = os.listdir(cache)
        except FileNotFoundError:
            names = []
        for name in names:
            os.unlink(os.path.join(cache, name))
            steps += name.endswith(".json")
        keep = list(housekeeping.images_in_use(store, housekeeping.container_states(root)))
        removed = store.gc(keep=keep)
    total = sum(size for _, size in removed)
    print("Deleted build cache steps: {}".format(steps))
    print("Total reclaimed space: {}".format(housekeeping.human_size(total)))
    return 0


def inspect_image(store, ref):
    """Docker's `image inspect` object of one image."""
    digest = store.lookup(ref)
    manifest, config = store.image(digest)
    cfg = config.get("config") or {}
    shown = {}
    for field, empty in CONFIG_FIELDS:
        value = cfg.get(field, empty)
        shown[field] = empty if value is None else value
    return {"Id": manifest["config"]["digest"], "Digest": digest, "RepoTags": store.names_of(digest),
            "Created": config.get("created"), "Author": config.get("author", ""), "Config": shown,
            "Architecture": config.get("architecture"), "Os": config.get("os"),
            "Size": sum(layer.get("size", 0) for layer in manifest.get("layers") or []),
            "RootFS": {"Type": "layers", "Layers": list((config.get("rootfs") or {}).get("diff_ids") or [])}}


def inspect(opts, store):
    out, failed = [], False
    for ref in opts.images:
        try:
            out.append(inspect_image(store, ref))
        except (ImageError, ValueError) as exc:
            print("hostprep-runtime: {}".format(exc), file=sys.stderr)
            failed = True
    print(json.dumps(out, indent=4, sort_keys=False))
    return 1 if failed else 0


def history(opts, store):
    """The image's steps, newest first (Docker's order), with the layer each made and its size."""
    digest = store.lookup(opts.image)
    manifest, config = store.image(digest)
    layers = list(manifest.get("layers") or [])
    rows = []
    for entry in config.get("history") or []:
        size = 0
        if not entry.get("empty_layer") and layers:
            size = layers.pop(0).get("size", 0)
        rows.append({"created": entry.get("created"), "created_by": entry.get("created_by", ""), "size": size,
                     "comment": entry.get("comment", "")})
    rows.reverse()
    if opts.format == "json":
        print(json.dumps(rows, sort_keys=True))
        return 0
    print("{:<22} {:<60} {:>10}".format("CREATED", "CREATED BY", "SIZE"))
    for row in rows:
        by = row["created_by"].replace("\n", " ")
        print("{:<22} {:<60} {:>10}".format(row["created"] or "", by[:57] + "..." if len(by) > 60 else by,
                                           _size(row["size"])))
    return 0


def _size(n):
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return "{:.3g}{}".format(n, unit) if unit != "B" else "{}B".format(n)
        n /= 1000.0
    return str(n)
