"""The command line of volumes and of a container's life after `run` (cli.py hands these commands here):
`volume create|ls|inspect|rm|prune`, `start`, `restart`, `wait`, `pause`, `unpause`, `top`, `stats`,
`generate systemd`, `system boot`, `cp`, `commit`, and the `run` options they bring (--mount, --tmpfs, --restart,
--health-*, --log-opt).
"""

import json
import sys

COMMANDS = ("volume", "start", "restart", "wait", "pause", "unpause", "top", "stats", "generate", "cp", "commit",
            "save")


def add_run_options(run):
    run.add_argument("--mount", action="append", help="type=bind|volume|tmpfs,source=..,target=..[,readonly]")
    run.add_argument("--tmpfs", action="append", help="PATH[:OPTIONS] (noexec,nosuid,nodev by default)")
    run.add_argument("--restart", help="no | on-failure[:N] | always | unless-stopped")
    run.add_argument("--health-cmd", help="a shell command whose exit code says whether the container is healthy")
    run.add_argument("--health-interval", help="time between checks (default 30s)")
    run.add_argument("--health-timeout", help="time a check may take (default 30s)")
    run.add_argument("--health-retries", type=int, help="failures in a row that make it unhealthy (default 3)")
    run.add_argument("--health-start-period", help="time failures do not count after a start (default 0s)")
    run.add_argument("--no-healthcheck", action="store_true", help="ignore the image's HEALTHCHECK")
    run.add_argument("--log-opt", action="append", help="max-size=SIZE (default 10m), max-file=N (default 3)")


def add_parsers(sub):
    vol = sub.add_parser("volume", help="named volumes")
    vsub = vol.add_subparsers(dest="volume_command")
    vsub.required = True
    vc = vsub.add_parser("create", help="create a volume (a random name without NAME)")
    vc.add_argument("--label", action="append", default=[])
    vc.add_argument("name", nargs="?")
    vl = vsub.add_parser("ls", help="list volumes")
    vl.add_argument("-q", "--quiet", action="store_true")
    vl.add_argument("--format", choices=("table", "json"), default="table")
    vi = vsub.add_parser("inspect", help="a volume's record")
    vi.add_argument("names", nargs="+")
    vr = vsub.add_parser("rm", help="remove volumes no container uses")
    vr.add_argument("-f", "--force", action="store_true")
    vr.add_argument("names", nargs="+")
    vp = vsub.add_parser("prune", help="remove unused anonymous volumes (-a: every unused volume)")
    vp.add_argument("-a", "--all", action="store_true")
    vp.add_argument("-f", "--force", action="store_true", help="do not prompt (this command never prompts)")
    st = sub.add_parser("start", help="start stopped containers (detached)")
    st.add_argument("names", nargs="+")
    rs = sub.add_parser("restart", help="stop, then start containers")
    rs.add_argument("-t", "--time", type=int, default=10)
    rs.add_argument("names", nargs="+")
    wt = sub.add_parser("wait", help="wait until containers stop; print their exit codes")
    wt.add_argument("names", nargs="+")
    for name, text in (("pause", "freeze every process of containers"), ("unpause", "thaw paused containers")):
        p = sub.add_parser(name, help=text)
        p.add_argument("names", nargs="+")
    tp = sub.add_parser("top", help="a container's processes")
    tp.add_argument("name")
    ss = sub.add_parser("stats", help="CPU, memory and pids of running containers (one sample)")
    ss.add_argument("--no-stream", action="store_true", help="one sample (the only mode)")
    ss.add_argument("--format", choices=("table", "json"), default="table")
    ss.add_argument("names", nargs="*")
    gen = sub.add_parser("generate", help="generate files for a container")
    gsub = gen.add_subparsers(dest="generate_command")
    gsub.required = True
    gs = gsub.add_parser("systemd", help="print a systemd unit that starts and stops a container")
    gs.add_argument("-t", "--time", type=int, default=10, help="stop timeout")
    gs.add_argument("--restart-policy", default="on-failure",
                    choices=("no", "on-success", "on-failure", "on-abnormal", "on-watchdog", "on-abort", "always"))
    gs.add_argument("name")
    cp = sub.add_parser("cp", help="copy files between a container and the host (CONTAINER:PATH either side)")
    cp.add_argument("-a", "--archive", action="store_true", help="keep owners (the default for root)")
    cp.add_argument("source")
    cp.add_argument("destination")
    cm = sub.add_parser("commit", help="make an image of a container's changes")
    cm.add_argument("-c", "--change", action="append", default=[], help="CMD, ENTRYPOINT, ENV, WORKDIR, USER, "
                    "EXPOSE, LABEL, VOLUME (Dockerfile syntax)")
    cm.add_argument("-m", "--message")
    cm.add_argument("-a", "--author")
    cm.add_argument("container")
    cm.add_argument("image", nargs="?")
    sv = sub.add_parser("save", help="write images to an OCI image layout tar (import reads it)")
    sv.add_argument("-o", "--output", required=True)
    sv.add_argument("images", nargs="+")


def add_log_options(lg):
    lg.add_argument("--since", help="records from this time (Unix, RFC 3339, or a duration such as 10m)")
    lg.add_argument("--until", help="records up to this time")
    lg.add_argument("-n", "--tail", default="all", help="the last N records (default all)")
    lg.add_argument("-t", "--timestamps", action="store_true")


def main(opts, root):
    from hostprep.runtime import lifecycle, volumes

    out = sys.stdout
    if opts.command == "volume":
        return _volume(opts, root, volumes)
    if opts.command == "start":
        for name in opts.names:
            out.write(lifecycle.start(root, name) + "\n")
    elif opts.command == "restart":
        for name in opts.names:
            out.write(lifecycle.restart(root, name, timeout=opts.time) + "\n")
    elif opts.command == "wait":
        for name in opts.names:
            code = lifecycle.wait(root, name)
            out.write("{}\n".format(code if code is not None else -1))
            out.flush()
    elif opts.command in ("pause", "unpause"):
        for name in opts.names:
            out.write(getattr(lifecycle, opts.command)(root, name) + "\n")
    elif opts.command == "top":
        lifecycle.top(root, opts.name)
    elif opts.command == "stats":
        lifecycle.stats(root, opts.names, fmt=opts.format)
    elif opts.command == "generate":
        out.write(lifecycle.generate_systemd(root, opts.name, timeout=opts.time, restart_policy=opts.restart_policy))
    elif opts.command == "cp":
        from hostprep.runtime import cpcommit

        cpcommit.cp(root, opts.source, opts.destination, archive=opts.archive)
    elif opts.command == "save":
        from hostprep.runtime import cpcommit

        cpcommit.save(root, opts.images, opts.output)
    elif opts.command == "commit":
        from hostprep.runtime import cpcommit

        out.write(cpcommit.commit(root, opts.container, opts.image, changes=opts.change, message=opts.message,
                                  author=opts.author) + "\n")
    return 0


def _volume(opts, root, volumes):
    out = sys.stdout
    cmd = opts.volume_command
    if cmd == "create":
        labels = dict(item.partition("=")[::2] for item in opts.label)
        out.write(volumes.create(root, opts.name, labels=labels)["Name"] + "\n")
    elif cmd == "ls":
        names = volumes.names(root)
        if opts.format == "json":
            out.write(json.dumps([volumes.read(root, n) for n in names], sort_keys=True) + "\n")
        elif opts.quiet:
            out.write("".join(n + "\n" for n in names))
        else:
            out.write("{:<16}{}\n".format("DRIVER", "VOLUME NAME"))
            for n in names:
                out.write("{:<16}{}\n".format("local", n))
    elif cmd == "inspect":
        out.write(json.dumps([volumes.read(root, n) for n in opts.names], indent=4, sort_keys=True) + "\n")
    elif cmd == "rm":
        failed = 0
        for n in opts.names:
            try:
                out.write(volumes.remove(root, n) + "\n")
            except Exception as exc:  # noqa: BLE001 - each name on its own, as Docker
                sys.stderr.write("hostprep-runtime: {}\n".format(exc))
                failed = 1
        return failed
    elif cmd == "prune":
        from hostprep.runtime.housekeeping import human_size

        removed = volumes.prune(root, everything=opts.all)
        out.write("Deleted Volumes:\n" + "".join(n + "\n" for n, _ in removed))
        out.write("\nTotal reclaimed space: {}\n".format(human_size(sum(s for _, s in removed))))
    return 0
