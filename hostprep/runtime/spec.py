"""The container's specification, built from the command line and the image in one place (runc's specconv):
everything the start steps need, checked before anything is created.

Volume options follow Docker's `-v` grammar (moby volume/mounts/linux_parser.go): `SRC:DST[:OPTS]` with OPTS a
comma-separated set of at most one of each kind — `ro`/`rw`, `z`/`Z`, `nocopy`, a propagation mode — and
anything else refused. `ro` is recursive here: a mount below the source is read-only in the container too.
"""

import os
import time

from hostprep.runtime.limits import container_limits
from hostprep.runtime.state import RunError

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PROPAGATIONS = ("private", "rprivate", "slave", "rslave", "shared", "rshared")
# shared propagation would let the container's mounts reach the host's mount table: not offered
UNSUPPORTED_PROPAGATIONS = ("shared", "rshared")
SECURITY_OPTS = "seccomp=unconfined, no-new-privileges"


def parse_volume(text):
    """One `-v` value as {"source", "target", "readonly", "propagation"}; RunError names the rule broken."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise RunError("invalid volume {!r}: use HOST-PATH:CONTAINER-PATH[:OPTIONS]".format(text))
    source, target = parts[0], parts[1]
    if not source.startswith("/"):
        raise RunError("invalid volume {!r}: the source must be an absolute host path (named volumes are not "
                       "supported)".format(text))
    if not target.startswith("/"):
        raise RunError("invalid volume {!r}: the destination must be an absolute path".format(text))
    target = os.path.normpath(target)
    if target.startswith("//"):
        target = "/" + target.lstrip("/")
    if target == "/":
        raise RunError("invalid volume {!r}: the destination cannot be /".format(text))
    if not os.path.exists(source):
        raise RunError("volume source {} does not exist".format(source))
    volume = {"source": source, "target": target, "readonly": False, "propagation": "rprivate"}
    if len(parts) == 3:
        seen = set()
        for option in parts[2].split(","):
            if option in ("ro", "rw"):
                kind = "mode"
                volume["readonly"] = option == "ro"
            elif option in ("z", "Z"):
                kind = "label"
                if _selinux_enabled():
                    raise RunError("invalid volume {!r}: SELinux relabelling ({}) is not supported by "
                                   "hostprep-runtime".format(text, option))
                # without SELinux there is nothing to relabel: Docker does nothing either
            elif option == "nocopy":
                kind = "copy"  # copying image content into the volume applies to named volumes only
            elif option in PROPAGATIONS:
                kind = "propagation"
                if option in UNSUPPORTED_PROPAGATIONS:
                    raise RunError("invalid volume {!r}: propagation {} is not supported (use rslave or "
                                   "rprivate)".format(text, option))
                volume["propagation"] = option
            else:
                raise RunError("invalid volume {!r}: unknown option {!r} (valid: ro, rw, z, Z, nocopy, private, "
                               "rprivate, slave, rslave)".format(text, option))
            if kind in seen:
                raise RunError("invalid volume {!r}: more than one {} option".format(text, kind))
            seen.add(kind)
    return volume


def _selinux_enabled():
    """As Docker (go-selinux) decides: selinuxfs mounted and a policy loaded. A kernel built with SELinux that
    never loaded a policy (Debian's, the lab VMs') mounts selinuxfs but labels every process "kernel"."""
    if not os.path.exists("/sys/fs/selinux/enforce"):
        return False
    try:
        with open("/proc/self/attr/current") as f:
            label = f.read().strip("\0\n ")
    except OSError:
        return False
    return label not in ("", "kernel")


def parse_security_opts(values):
    """--security-opt values as {"seccomp": bool}; anything not implemented is refused, never ignored."""
    seccomp = True
    for value in values or []:
        if value == "seccomp=unconfined" or value == "seccomp:unconfined":
            seccomp = False
        elif value in ("no-new-privileges", "no-new-privileges=true", "no-new-privileges:true"):
            pass  # always in effect: every container process runs with no_new_privs
        else:
            raise RunError("unsupported --security-opt {!r} (supported: {})".format(value, SECURITY_OPTS))
    return {"seccomp": seccomp}


def build(opts, store, root, cid):
    """The spec (what PID 1 does) and the first state record (what the host keeps) of a new container."""
    image_id = store.lookup(opts.image)  # recorded: rmi and prune keep what a container was made from
    manifest, config = store.image(image_id)
    cfg = config.get("config") or {}
    entrypoint = opts.entrypoint.split() if opts.entrypoint else (cfg.get("Entrypoint") or [])
    cmd = list(opts.cmd) if opts.cmd else list(cfg.get("Cmd") or [])
    argv = list(entrypoint) + cmd
    if not argv or argv[0] == "":
        raise RunError("no command given and the image has none" if not argv else "the command is empty")
    env = {}
    for item in cfg.get("Env") or []:
        k, _, v = item.partition("=")
        env[k] = v
    for item in opts.env or []:
        k, _, v = item.partition("=")
        env[k] = v if "=" in item else os.environ.get(k, "")
    env.setdefault("PATH", DEFAULT_PATH)
    user = opts.user if opts.user is not None else (cfg.get("User") or None)
    from hostprep.runtime.volumes import describe, mounts

    volumes = mounts(opts, cfg, root, parse_volume)  # -v, --mount, --tmpfs and the image's VOLUMEs
    security = parse_security_opts(getattr(opts, "security_opt", None))
    limits = container_limits(opts.memory, opts.cpus, opts.pids_limit)  # Docker's checks (limits.py)
    cdir = os.path.join(root, "containers", cid)
    hostname = opts.hostname or cid
    env["HOSTNAME"] = hostname
    # the overlay is mounted on the container's directory itself (in PID 1's mount namespace only; the host
    # still sees state.json, upper and work there): one directory less to make and remove on every run
    spec = {"id": cid, "dir": cdir, "rootfs": cdir, "upper": os.path.join(cdir, "upper"),
            "work": os.path.join(cdir, "work"), "layers": store.layer_dirs(manifest), "volumes": volumes,
            "cmd": argv, "env": env, "hostname": hostname, "workdir": opts.workdir or cfg.get("WorkingDir") or "/",
            "user": user, "network": opts.network, "read_only": opts.read_only, "init": opts.init,
            "volatile": opts.rm, "rm": opts.rm, "tty": bool(getattr(opts, "tty", False)),
            "interactive": bool(getattr(opts, "interactive", False)), "seccomp": security["seccomp"],
            "detach": bool(getattr(opts, "detach", False)), "limits": limits}
    if opts.network not in ("none", "host") or getattr(opts, "publish", None) or getattr(opts, "publish_all", None):
        from hostprep.runtime import network  # bridge networks, -p, -P, --dns, --add-host (network.py)

        spec["net"] = network.options(opts, cfg)
        spec["network"] = spec["net"]["network"] if spec["net"] else spec["network"]
    state = {"id": cid, "name": opts.name or "c-" + cid, "image": opts.image, "image_id": image_id, "command": argv,
             "created": time.time(), "status": "created", "pid": 0, "exit_code": None, "rm": opts.rm,
             "hostname": hostname,
             "spec": {"env": env, "user": user, "workdir": spec["workdir"], "seccomp": spec["seccomp"]},
             "config": run_config(opts, manifest, limits), "mounts": [describe(m) for m in volumes]}
    from hostprep.runtime.supervisor import lifecycle_options

    more_spec, more_config = lifecycle_options(opts, cfg)  # --restart, --health-*, --log-opt (supervisor.py)
    spec.update(more_spec)
    state["config"].update(more_config)
    state["start_spec"] = spec  # `start` and a restart make the same container again from it (lifecycle.py)
    return spec, state


def run_config(opts, manifest, limits):
    """The options a container was started with, as given (what `inspect` shows under "config").

    Tools that keep containers in a declared state (roles/runtime's hostprep.runtime.container) compare these
    with the declaration to decide whether a container must be made again.
    """
    return {"image_id": manifest["config"]["digest"], "cmd": list(opts.cmd or []), "entrypoint": opts.entrypoint,
            "env": list(opts.env or []), "user": opts.user, "workdir": opts.workdir, "hostname": opts.hostname,
            "memory": limits.get("memory"), "cpus": limits.get("cpus"), "pids_limit": limits.get("pids"),
            "volumes": list(opts.volume or []), "read_only": bool(opts.read_only), "network": opts.network,
            "init": bool(opts.init)}
