"""hostprep-runtime: a docker-like command line for the bundled container runtime (stdlib only, Python 3.6+).

`run` takes a fast path: its arguments are read by `parse_run` (argparse and what it imports cost ~10 ms at
every start) and the process ends with os._exit once the container is gone (interpreter finalization is
several ms more). Any argument list `parse_run` is not sure about goes to argparse, so errors and help read
the same; tests/runtime/test_fast_path.py checks that both parsers agree.
"""

import os
import sys

from hostprep.runtime.runoptions import RunOptions

_RUN_FLAGS = {"--rm": ("rm",), "-d": ("detach",), "--detach": ("detach",), "--read-only": ("read_only",),
              "--init": ("init",), "-i": ("interactive",), "--interactive": ("interactive",), "-t": ("tty",),
              "--tty": ("tty",), "-it": ("interactive", "tty"), "-ti": ("interactive", "tty"),
              "-P": ("publish_all",), "--publish-all": ("publish_all",)}
_RUN_VALUES = {"--name": "name", "-e": "env", "--env": "env", "-w": "workdir", "--workdir": "workdir",
               "-u": "user", "--user": "user", "--hostname": "hostname", "-m": "memory", "--memory": "memory",
               "--cpus": "cpus", "--pids-limit": "pids_limit", "-v": "volume", "--volume": "volume",
               "--network": "network", "--entrypoint": "entrypoint", "--security-opt": "security_opt",
               "-p": "publish", "--publish": "publish", "--network-alias": "network_alias", "--dns": "dns",
               "--dns-search": "dns_search", "--dns-option": "dns_option", "--add-host": "add_host", "--ip": "ip"}
_RUN_APPEND = ("env", "volume", "security_opt", "publish", "network_alias", "dns", "dns_search", "dns_option",
               "add_host")


def parse_run(args):
    """Options for `run ARGS...`, or None when argparse should read them (anything unusual or wrong)."""
    opts = RunOptions()
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-"):
            break
        if arg in _RUN_FLAGS:
            for key in _RUN_FLAGS[arg]:
                setattr(opts, key, True)
            i += 1
            continue
        if arg in _RUN_VALUES:
            if i + 1 >= len(args) or args[i + 1].startswith("-"):
                return None
            key, value = _RUN_VALUES[arg], args[i + 1]
            i += 2
            if value == "" and key in ("cpus", "pids_limit"):
                return None
        elif arg.startswith("--") and "=" in arg and arg.partition("=")[0] in _RUN_VALUES:
            flag, _, value = arg.partition("=")
            key = _RUN_VALUES[flag]
            i += 1
            if not value:
                return None
        elif len(arg) > 2 and arg[1] != "-" and arg[:2] in _RUN_VALUES:
            key, value = _RUN_VALUES[arg[:2]], arg[2:]
            if value.startswith("="):
                return None
            i += 1
        else:
            return None  # -h, abbreviations, combined short flags, "--", unknown options: argparse decides
        if key in _RUN_APPEND:
            setattr(opts, key, (getattr(opts, key) or []) + [value])
        elif key == "cpus":
            try:
                opts.cpus = float(value)
            except ValueError:
                return None
        elif key == "pids_limit":
            try:
                opts.pids_limit = int(value)
            except ValueError:
                return None
        else:
            setattr(opts, key, value)
    if i >= len(args) or (i + 1 < len(args) and args[i + 1] == "--"):
        return None
    opts.image = args[i]
    opts.cmd = list(args[i + 1:])
    return opts


def _parser():
    import argparse

    from hostprep.runtime import lifecyclecli

    p = argparse.ArgumentParser(prog="hostprep-runtime", description="Run containers: namespaces, cgroups, "
                                "an overlay root entered with pivot_root, images stored as OCI layouts.")
    sub = p.add_subparsers(dest="command")
    sub.required = True  # the keyword argument exists from Python 3.7 on
    imp = sub.add_parser("import", help="import a rootfs tar, an OCI layout (dir or tar) or a docker save tar")
    imp.add_argument("file")
    imp.add_argument("name")
    imp.add_argument("--cmd", help="default command (shell-split)")
    image = sub.add_parser("image", help="image tools")
    image_sub = image.add_subparsers(dest="image_command")
    image_sub.required = True
    fh = image_sub.add_parser("from-host", help="a minimal image from this host's programs and their libraries")
    fh.add_argument("name")
    fh.add_argument("paths", nargs="+")
    ip = image_sub.add_parser("prune", help="remove blobs and layers no image names (-a: also unused images)")
    ip.add_argument("-a", "--all", action="store_true", help="also every image no container was made from")
    ip.add_argument("-f", "--force", action="store_true", help="do not prompt (this command never prompts)")
    images = sub.add_parser("images", help="list images")
    images.add_argument("--format", choices=("table", "json"), default="table",
                        help="json: one array of {name, digest, id} for programs")
    rmi = sub.add_parser("rmi", help="remove images (their data once no image or container uses it)")
    rmi.add_argument("-f", "--force", action="store_true", help="also an image a container was made from")
    rmi.add_argument("names", nargs="+")
    ctr = sub.add_parser("container", help="container tools")
    ctr_sub = ctr.add_subparsers(dest="container_command")
    ctr_sub.required = True
    cp = ctr_sub.add_parser("prune", help="remove every container that is not running")
    cp.add_argument("-f", "--force", action="store_true", help="do not prompt (this command never prompts)")
    system = sub.add_parser("system", help="system tools")
    system_sub = system.add_subparsers(dest="system_command")
    system_sub.required = True
    system_sub.add_parser("df", help="disk space used by images and containers")
    tag = sub.add_parser("tag", help="give an image another name")
    tag.add_argument("source")
    tag.add_argument("target")
    bld = sub.add_parser("build", help="build an image from a Dockerfile")
    bld.add_argument("-t", "--tag", action="append", default=[], help="NAME[:TAG] (may be given more than once)")
    bld.add_argument("-f", "--file", help="the Dockerfile (default: CONTEXT/Dockerfile)")
    bld.add_argument("--build-arg", action="append", default=[], help="NAME=VALUE for an ARG")
    bld.add_argument("--target", help="build up to this stage")
    bld.add_argument("--no-cache", action="store_true", help="run every step again")
    bld.add_argument("--network", choices=("none", "host"), default="none",
                     help="the network of RUN steps without --network (host: e.g. to install packages)")
    bld.add_argument("--timestamp", type=int, help="seconds since the epoch for every file and history time "
                     "(reproducible images, as buildah's --timestamp)")
    bld.add_argument("context")
    bd = sub.add_parser("builder", help="build cache tools")
    bd_sub = bd.add_subparsers(dest="builder_command")
    bd_sub.required = True
    bp = bd_sub.add_parser("prune", help="forget the build cache and remove the layers only it kept")
    bp.add_argument("-f", "--force", action="store_true", help="do not prompt (this command never prompts)")
    hist = sub.add_parser("history", help="an image's steps")
    hist.add_argument("--format", choices=("table", "json"), default="table")
    hist.add_argument("image")
    ii = image_sub.add_parser("inspect", help="an image's configuration, with Docker's field names")
    ii.add_argument("images", nargs="+")
    pl = sub.add_parser("pull", help="pull an image from a registry")
    pl.add_argument("--plain-http", action="store_true", help="HTTP without TLS for this registry")
    pl.add_argument("image")
    ps_ = sub.add_parser("push", help="push an image to a registry")
    ps_.add_argument("--plain-http", action="store_true", help="HTTP without TLS for this registry")
    ps_.add_argument("image")
    ps_.add_argument("destination", nargs="?", help="REGISTRY/NAME[:TAG] (default: the image's own name)")
    li = sub.add_parser("login", help="store credentials for a registry (checked against it first)")
    li.add_argument("-u", "--username", required=True)
    li.add_argument("-p", "--password", help="prefer --password-stdin: a command line is visible to others")
    li.add_argument("--password-stdin", action="store_true")
    li.add_argument("--plain-http", action="store_true")
    li.add_argument("server")
    lo = sub.add_parser("logout", help="forget a registry's credentials")
    lo.add_argument("server")
    ins = sub.add_parser("inspect", help="show an image's or container's details")
    ins.add_argument("ref")
    run = sub.add_parser("run", help="run a command in a new container")
    run.add_argument("--rm", action="store_true")
    run.add_argument("-d", "--detach", action="store_true", help="run in the background and print the id")
    run.add_argument("--name")
    run.add_argument("-e", "--env", action="append")
    run.add_argument("-w", "--workdir")
    run.add_argument("-u", "--user")
    run.add_argument("--hostname")
    run.add_argument("-m", "--memory")
    run.add_argument("--cpus", type=float)
    run.add_argument("--pids-limit", type=int)
    run.add_argument("-v", "--volume", action="append")
    run.add_argument("--read-only", action="store_true")
    run.add_argument("--network", default="none", help="none (default), host, bridge or a `network create` name")
    run.add_argument("-p", "--publish", action="append", help="[IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp]")
    run.add_argument("-P", "--publish-all", action="store_true", help="every EXPOSEd port on a free host port")
    run.add_argument("--network-alias", action="append", help="another name on a user-defined network")
    run.add_argument("--dns", action="append", help="a nameserver for /etc/resolv.conf")
    run.add_argument("--dns-search", action="append")
    run.add_argument("--dns-option", action="append")
    run.add_argument("--add-host", action="append", help="NAME:IP (or NAME:host-gateway) in /etc/hosts")
    run.add_argument("--ip", help="the container's address on its network")
    run.add_argument("--entrypoint")
    run.add_argument("--init", action="store_true", help="run a tiny init as PID 1 that reaps zombies")
    run.add_argument("-i", "--interactive", action="store_true", help="keep stdin open (else /dev/null)")
    run.add_argument("-t", "--tty", action="store_true", help="a pty of the container's own")
    run.add_argument("--security-opt", action="append",
                     help="seccomp=unconfined (no seccomp filter) or no-new-privileges (always in effect)")
    lifecyclecli.add_run_options(run)  # --mount, --tmpfs, --restart, --health-*, --log-opt
    run.add_argument("image")
    run.add_argument("cmd", nargs=argparse.REMAINDER)
    ps = sub.add_parser("ps", help="list containers")
    ps.add_argument("-a", "--all", action="store_true")
    ps.add_argument("--format", choices=("table", "json"), default="table",
                    help="json: one array of the containers' states (as `inspect` shows them) for programs")
    lg = sub.add_parser("logs", help="a container's output")
    lg.add_argument("-f", "--follow", action="store_true")
    lifecyclecli.add_log_options(lg)
    lg.add_argument("name")
    st = sub.add_parser("stop", help="SIGTERM, then SIGKILL after a grace period")
    st.add_argument("-t", "--time", type=int, default=10)
    st.add_argument("names", nargs="+")
    kl = sub.add_parser("kill", help="send a signal to a container's PID 1")
    kl.add_argument("-s", "--signal", default="KILL")
    kl.add_argument("names", nargs="+")
    ex = sub.add_parser("exec", help="run a command in a running container")
    ex.add_argument("-i", "--interactive", action="store_true")
    ex.add_argument("-t", "--tty", action="store_true")
    ex.add_argument("-e", "--env", action="append")
    ex.add_argument("-w", "--workdir")
    ex.add_argument("-u", "--user")
    ex.add_argument("--security-opt", action="append")
    ex.add_argument("name")
    ex.add_argument("cmd", nargs=argparse.REMAINDER)
    from hostprep.runtime import netcli

    netcli.add_parsers(sub)
    rm = sub.add_parser("rm", help="remove containers")
    rm.add_argument("-f", "--force", action="store_true")
    rm.add_argument("-v", "--volumes", action="store_true", help="also the containers' anonymous volumes")
    rm.add_argument("names", nargs="+")
    system_sub.add_parser("boot", help="start the containers whose restart policy brings them back at boot")
    lifecyclecli.add_parsers(sub)  # volume, start, restart, wait, pause, unpause, top, stats, generate, cp, commit
    return p


def main(argv=None):
    """The CLI; returns the exit code. A foreground `run` that took the fast path ends the process itself."""
    if argv is None:  # the process is ours: on Python 3.6 under the C locale, file names as UTF-8 (utf8.py)
        from hostprep.runtime.utf8 import reexec_if_ascii

        reexec_if_ascii()
    args = sys.argv[1:] if argv is None else list(argv)
    opts = parse_run(args[1:]) if args and args[0] == "run" else None
    if opts is not None:
        code = _main(opts)
        if argv is None:  # the process is ours: no interpreter finalization
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code & 0xFF)
        return code
    return _main(_parser().parse_args(args))


def _main(opts):
    from hostprep.runtime.store import ImageError, Store, state_root

    root = state_root()
    if os.geteuid() != 0 and opts.command in ("run", "import", "rm", "rmi", "tag", "image", "container",
                                                "build", "builder", "pull", "login", "logout"):
        print("hostprep-runtime: must run as root (namespaces, mounts, cgroups)", file=sys.stderr)
        return 1
    try:
        if opts.command == "run":
            from hostprep.runtime.container import run

            if opts.cmd and opts.cmd[0] == "--":
                opts.cmd = opts.cmd[1:]
            return run(opts, root)
        if opts.command in ("network", "port"):
            from hostprep.runtime import netcli

            return netcli.main(opts, root)
        from hostprep.runtime import lifecyclecli

        if opts.command in lifecyclecli.COMMANDS:  # volume, start, ..., cp, commit, save
            return lifecyclecli.main(opts, root)
        if opts.command == "system" and opts.system_command == "boot":
            from hostprep.runtime.lifecycle import boot

            return 1 if boot(root) else 0
        store = Store(root)
        if opts.command == "import":
            from hostprep.runtime.importer import import_any

            print(import_any(store, opts.file, opts.name, opts.cmd))
        elif opts.command in ("pull", "push", "login", "logout"):
            from hostprep.runtime import registrycli

            return registrycli.main(opts, store, root)
        elif opts.command in ("build", "history", "builder") or (opts.command == "image" and
                                                                 opts.image_command == "inspect"):
            from hostprep.runtime import buildcli

            return buildcli.main(opts, store, root)
        elif opts.command == "image" and opts.image_command == "prune":
            from hostprep.runtime import housekeeping

            housekeeping.image_prune(store, root, everything=opts.all)
        elif opts.command == "image":
            from hostprep.runtime.importer import from_host

            print(from_host(store, opts.name, opts.paths))
        elif opts.command == "container":
            from hostprep.runtime import housekeeping
            from hostprep.runtime.state import remove

            housekeeping.container_prune(root, remove)
        elif opts.command == "system":
            from hostprep.runtime import housekeeping

            housekeeping.system_df(store, root)
        elif opts.command == "images" and opts.format == "json":
            import json

            print(json.dumps([{"name": name, "digest": digest, "id": store.read_json(digest)["config"]["digest"]}
                              for name, digest in store.images()], sort_keys=True))
        elif opts.command == "images":
            print("{:<40} {:<20}".format("NAME", "ID"))
            for name, digest in store.images():
                print("{:<40} {:<20}".format(name, digest.split(":")[1][:12]))
        elif opts.command == "rmi":
            from hostprep.runtime import housekeeping

            housekeeping.rmi(store, root, opts.names, force=opts.force)
        elif opts.command == "tag":
            from hostprep.runtime import housekeeping

            housekeeping.tag(store, opts.source, opts.target)
        elif opts.command == "inspect":
            import json

            from hostprep.runtime.refs import find_container
            from hostprep.runtime.state import list_states

            state = find_container(list_states(root), opts.ref)  # "" and ambiguous prefixes are refused
            if state is not None:
                from hostprep.runtime.lifecycle import shown_status  # paused, health

                print(json.dumps(shown_status(root, state), indent=2, sort_keys=True))
                return 0
            manifest, config = store.resolve(opts.ref)
            print(json.dumps({"manifest": manifest, "config": config}, indent=2, sort_keys=True))
        elif opts.command == "ps":
            from hostprep.runtime.lifecycle import shown_status  # paused, health
            from hostprep.runtime.state import list_states

            states = [shown_status(root, s) for s in list_states(root)]
            if opts.format == "json":
                import json

                print(json.dumps([s for s in states if opts.all or s["status"] in ("running", "paused", "restarting")],
                                 sort_keys=True))
                return 0
            print("{:<14} {:<20} {:<24} {:<10} {}".format("ID", "NAME", "IMAGE", "STATUS", "COMMAND"))
            for s in states:
                if s["status"] not in ("running", "paused", "restarting") and not opts.all:
                    continue
                code = s.get("exit_code")
                status = s["status"] if s["status"] != "exited" else "exited({})".format("?" if code is None else code)
                if s.get("health"):
                    status += "({})".format(s["health"]["Status"])
                print("{:<14} {:<20} {:<24} {:<10} {}".format(s["id"], s["name"], s["image"], status,
                                                               " ".join(s["command"])))
        elif opts.command == "logs":
            from hostprep.runtime.lifecycle import show_logs

            show_logs(root, opts.name, follow=opts.follow, since=opts.since, until=opts.until, tail=opts.tail,
                      timestamps=opts.timestamps)
        elif opts.command == "stop":
            from hostprep.runtime.state import stop

            for name in opts.names:
                print(stop(root, name, timeout=opts.time))
        elif opts.command == "kill":
            import signal as _signal

            from hostprep.runtime.state import signal_container

            name = opts.signal.upper()
            try:
                sig = int(name) if name.isdigit() else _signal.Signals[name if name.startswith("SIG") else "SIG" + name]
            except KeyError:
                raise ValueError("invalid signal: {}".format(opts.signal))
            for cname in opts.names:
                print(signal_container(root, cname, sig))
        elif opts.command == "exec":
            from hostprep.runtime.container import exec_in

            cmd = opts.cmd[1:] if opts.cmd and opts.cmd[0] == "--" else opts.cmd
            if not cmd:
                print("hostprep-runtime: exec needs a command", file=sys.stderr)
                return 2
            env = dict(e.split("=", 1) for e in (opts.env or []) if "=" in e)
            return exec_in(root, opts.name, cmd, env_extra=env, workdir=opts.workdir, user=opts.user, tty=opts.tty,
                           interactive=opts.interactive, security_opt=opts.security_opt)
        elif opts.command == "rm":
            from hostprep.runtime.state import find, remove
            from hostprep.runtime.volumes import remove_anonymous

            for name in opts.names:
                state = find(root, name)
                print(remove(root, state["id"], force=opts.force))
                if opts.volumes:  # rm -v: its anonymous volumes too
                    remove_anonymous(root, state)
    except (ImageError, OSError, ValueError) as exc:
        print("hostprep-runtime: {}".format(exc), file=sys.stderr)
        return 125
    except Exception as exc:  # noqa: BLE001 - every error becomes a message and a non-zero exit
        name = type(exc).__name__
        if name in ("RunError", "LimitError", "UnsafeEntry"):
            print("hostprep-runtime: {}".format(exc), file=sys.stderr)
            return 125
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
