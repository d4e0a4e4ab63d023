"""hostprep.runtime.container: a container of hostprep-runtime in its declared state (started, stopped, absent).

The runtime records the options a container was started with (`ps --format json` shows them under
"config"); the module compares them, and the id of the image the name points at now, with the declaration
and makes the container again only when something differs, naming what in --diff. A started container also
gets a boot record (`/etc/hostprep-runtime/containers/NAME.sh`, the command that starts it) which
hostprep-runtime.service runs after a reboot (after `hostprep-runtime system boot`, which brings back every
container whose restart policy says so, so such a container comes back as it was, with its own upper layer).

Published ports, named volumes, tmpfs mounts, the restart policy, the health command and log options are
compared too; a container recorded by an older runtime (without them) is read as having their defaults.
"""

from __future__ import annotations

from typing import Any

from hostprep.modules._runtime import (
    DEFAULT_BOOT_DIR,
    DEFAULT_EXECUTABLE,
    DEFAULT_STATE_DIR,
    RuntimeView,
    listing_probe,
    normalize_ref,
    runtime_cmd,
    split_command,
    usable_view,
)
from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext, Upload
from hostprep.modules.shellutil import join, q

_UNITS = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_COMPARED = ("image_id", "cmd", "entrypoint", "env", "user", "workdir", "hostname", "memory", "cpus", "pids_limit",
             "volumes", "read_only", "network", "init", "publish", "tmpfs", "restart", "health_cmd", "log_opt")
# what a runtime that did not record a key ran with
_RECORDED_DEFAULTS = {"publish": [], "tmpfs": [], "restart": "no", "health_cmd": None, "log_opt": []}
RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")


def parse_size(value: Any) -> int:
    """Bytes from 64m / 1g / 1048576, read as hostprep-runtime's -m reads them."""
    text = str(value).strip().lower()
    if text.endswith("b") and len(text) > 1 and text[-2] in _UNITS:
        text = text[:-1]
    unit = _UNITS.get(text[-1:], 1) if text else 1
    number = text[:-1] if text[-1:] in _UNITS else text
    try:
        size = int(float(number) * unit)
    except ValueError:
        from hostprep.errors import ModuleArgError

        raise ModuleArgError(f"invalid size {value!r} (use e.g. 64m, 1g)", key="memory") from None
    if size <= 0:
        from hostprep.errors import ModuleArgError

        raise ModuleArgError(f"memory must be positive, not {value!r}", key="memory")
    return size


class RuntimeContainerModule(Module):
    name = "hostprep.runtime.container"
    doc = ("A hostprep-runtime container in its declared state: started (made, and made again when its "
           "configuration or its image differs from the declaration), stopped, or absent. Started containers "
           "are started again at boot by hostprep-runtime.service.")
    examples = ("- hostprep.runtime.container:\n    name: web\n    image: tools\n    command: [sleep, infinity]\n"
                "    memory: 64m\n    cpus: 0.5\n    pids_limit: 64\n    env: {MODE: prod}\n    read_only: true\n")
    args = {
        "name": Arg("str", required=True, doc="The container's name."),
        "state": Arg("str", default="started", choices=("started", "stopped", "absent")),
        "image": Arg("str", doc="An image in the host's store (see hostprep.runtime.image); required to start."),
        "command": Arg("raw", doc="The command (a list, or a string split as a shell does); default: the image's."),
        "entrypoint": Arg("str"),
        "env": Arg("dict", default={}, doc="Environment variables."),
        "user": Arg("str", doc="USER[:GROUP] (names are looked up in the image)."),
        "workdir": Arg("str"),
        "hostname": Arg("str"),
        "memory": Arg("str", doc="Memory limit, e.g. 64m, 1g."),
        "cpus": Arg("float", doc="CPU limit in CPUs, e.g. 0.5."),
        "pids_limit": Arg("int", doc="Most processes the container may have."),
        "volumes": Arg("list", elements="str", default=[],
                       doc="HOST-PATH:CONTAINER-PATH[:ro] bind mounts, NAME:CONTAINER-PATH[:ro] named volumes (made "
                           "on first use, filled from the image), or a lone CONTAINER-PATH (an anonymous volume)."),
        "ports": Arg("list", elements="str", default=[],
                     doc="Published ports as -p takes them: [IP:]HOST:CONTAINER[/tcp|udp] or CONTAINER."),
        "tmpfs": Arg("list", elements="str", default=[], doc="PATH[:OPTIONS] tmpfs mounts (--tmpfs)."),
        "restart": Arg("str", default="no",
                       doc="Restart policy: no, always, unless-stopped, on-failure[:N] (Docker's semantics)."),
        "health_cmd": Arg("str", doc="A shell command run in the container to tell its health (--health-cmd)."),
        "log_opt": Arg("list", elements="str", default=[], doc="max-size=SIZE, max-file=N (--log-opt)."),
        "read_only": Arg("bool", default=False, doc="Mount the container's root read-only."),
        "network": Arg("str", default="none", doc="none, host, bridge, or a network made with `network create`; "
                       "ports alone put the container on the default bridge."),
        "init": Arg("bool", default=False, doc="Run a tiny init as PID 1 that reaps zombies."),
        "stop_timeout": Arg("int", default=10, doc="Seconds between SIGTERM and SIGKILL when stopping."),
        "executable": Arg("path", default=DEFAULT_EXECUTABLE, doc="The hostprep-runtime on the host."),
        "state_dir": Arg("path", default=DEFAULT_STATE_DIR, doc="The runtime's state directory on the host."),
        "boot_dir": Arg("path", default=DEFAULT_BOOT_DIR, doc="Where boot records of started containers live."),
    }

    def probe(self, args: dict[str, Any]) -> str | None:
        return listing_probe(args["executable"], args["state_dir"], args["boot_dir"])

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        name = args["name"]
        result: dict[str, Any] = {"name": name, "state": args["state"]}
        view, problem = usable_view("hostprep.runtime.container", probe, args["executable"], ctx.check_mode)
        if view is None:
            return Plan(failed=True, msg=problem, result=result)
        b = runtime_cmd(args["executable"], args["state_dir"])
        have = view.container(name)
        boot_file = f"{args['boot_dir']}/{name}.sh"
        boot_name = f"{name}.sh"
        drop_boot = [Command(f"rm -f {q(boot_file)}")] if boot_name in view.boot else []
        if args["state"] == "absent":
            steps = ([Command(f"{b} rm -f {q(name)}")] if have else []) + drop_boot
            return Plan(bool(steps), steps, result=result,
                        diff={"before": _show(have), "after": f"container {name}: absent\n"} if steps else None)
        if args["state"] == "stopped":
            steps = ([Command(f"{b} stop -t {args['stop_timeout']} {q(name)}")]
                     if have and have.get("status") == "running" else []) + drop_boot
            return Plan(bool(steps), steps, result=result,
                        diff={"before": _show(have), "after": f"container {name}: stopped\n"} if steps else None)
        if not args.get("image"):
            return Plan(failed=True, result=result, msg="hostprep.runtime.container: state=started needs image")
        policy, _, count = str(args.get("restart") or "no").partition(":")
        if policy not in RESTART_POLICIES or (count and (policy != "on-failure" or not count.isdigit())):
            return Plan(failed=True, result=result, msg=f"hostprep.runtime.container: invalid restart policy "
                        f"{args.get('restart')!r} (no, always, unless-stopped, on-failure[:N])")
        wanted = self.wanted(args, view)
        run = self.run_command(args)
        boot_text = _boot_script(b, name, run)
        result.update(image=normalize_ref(args["image"]), config=wanted)
        if wanted["image_id"] is None and not (ctx.check_mode and not view.installed):
            return Plan(failed=True, result=result,
                        msg=f"hostprep.runtime.container: image {normalize_ref(args['image'])} is not in the "
                            "host's store (put it there first with hostprep.runtime.image)")
        differs = _differences(have, wanted)
        steps: list = []
        if differs:
            if have is not None:
                steps.append(Command(f"{b} rm -f {q(name)} >/dev/null"))
            steps.append(Command(f"{run} >/dev/null"))
        if view.boot.get(boot_name) != boot_text:
            steps += [Command(f"mkdir -p -m 0700 {q(args['boot_dir'])}"), Upload(boot_text.encode(), boot_file,
                                                                               mode="0700")]
            if not differs:
                differs = ["boot record"]
        result["differs"] = differs
        if not steps:
            result["id"] = have["id"] if have else None
            return Plan(False, result=result)
        return Plan(True, steps, result=result,
                    diff={"before": _show(have), "after": _show_wanted(name, wanted, differs)})

    @staticmethod
    def wanted(args: dict[str, Any], view: RuntimeView) -> dict[str, Any]:
        """The configuration the runtime would record for this declaration (see runtime `run_config`)."""
        image = view.image(args["image"])
        env = [f"{k}={v}" for k, v in sorted((args.get("env") or {}).items())]
        return {
            "image_id": image["id"] if image else None,
            "cmd": split_command(args.get("command")) or [],
            "entrypoint": args.get("entrypoint"),
            "env": env,
            "user": args.get("user"),
            "workdir": args.get("workdir"),
            "hostname": args.get("hostname"),
            "memory": parse_size(args["memory"]) if args.get("memory") not in (None, "") else None,
            "cpus": float(args["cpus"]) if args.get("cpus") is not None else None,
            "pids_limit": args.get("pids_limit"),
            "volumes": list(args.get("volumes") or []),
            "read_only": bool(args.get("read_only")),
            "network": args.get("network") or "none",
            "init": bool(args.get("init")),
            "publish": list(args.get("ports") or []),
            "tmpfs": list(args.get("tmpfs") or []),
            "restart": args.get("restart") or "no",
            "health_cmd": args.get("health_cmd"),
            "log_opt": list(args.get("log_opt") or []),
        }

    @staticmethod
    def run_command(args: dict[str, Any]) -> str:
        """`hostprep-runtime run -d ...` for the declaration (also what the boot record runs)."""
        words = ["run", "-d", "--name", args["name"]]
        for key, value in sorted((args.get("env") or {}).items()):
            words += ["-e", f"{key}={value}"]
        for flag, key in (("-u", "user"), ("-w", "workdir"), ("--hostname", "hostname"), ("-m", "memory"),
                          ("--entrypoint", "entrypoint")):
            if args.get(key) not in (None, ""):
                words += [flag, str(args[key])]
        if args.get("cpus") is not None:
            words += ["--cpus", str(float(args["cpus"]))]
        if args.get("pids_limit") is not None:
            words += ["--pids-limit", str(args["pids_limit"])]
        for volume in args.get("volumes") or []:
            words += ["-v", volume]
        for port in args.get("ports") or []:
            words += ["-p", port]
        for mount in args.get("tmpfs") or []:
            words += ["--tmpfs", mount]
        if (args.get("restart") or "no") != "no":
            words += ["--restart", args["restart"]]
        if args.get("health_cmd") is not None:
            words += ["--health-cmd", args["health_cmd"]]
        for opt in args.get("log_opt") or []:
            words += ["--log-opt", opt]
        if args.get("read_only"):
            words.append("--read-only")
        if (args.get("network") or "none") != "none":
            words += ["--network", args["network"]]
        if args.get("init"):
            words.append("--init")
        words.append(args["image"])
        words += split_command(args.get("command")) or []
        return f"{runtime_cmd(args['executable'], args['state_dir'])} {join(words)}"


def _differences(have: dict[str, Any] | None, wanted: dict[str, Any]) -> list[str]:
    """What keeps the host's container from being the declared one (empty: nothing)."""
    if have is None:
        return ["missing"]
    out = []
    restarting = have.get("status") == "restarting" and wanted.get("restart", "no") != "no"  # its policy at work
    if have.get("status") != "running" and not restarting:
        out.append(f"status ({have.get('status')})")
    config = have.get("config")
    if not isinstance(config, dict):
        return out + ["configuration (not recorded by this runtime version)"]
    for key in _COMPARED:
        got, want = config.get(key, _RECORDED_DEFAULTS.get(key)), wanted.get(key)
        if key == "cpus" and got is not None and want is not None:
            got, want = float(got), float(want)
        if got != want:
            out.append(key)
    return out


def _boot_script(b: str, name: str, run: str) -> str:
    """What hostprep-runtime.service runs at boot: start the container unless it already runs."""
    return ("#!/bin/sh\n# written by hostprep.runtime.container: start the declared container "
            f"{name} unless it runs\n"
            f"if {b} inspect {q(name)} 2>/dev/null | grep -q '\"status\": \"running\"'; then exit 0; fi\n"
            f"{b} rm -f {q(name)} >/dev/null 2>&1\n"
            f"{run}\n")


def _show(have: dict[str, Any] | None) -> str:
    if have is None:
        return "container: absent\n"
    lines = [f"container {have.get('name')}: {have.get('status')} (id {have.get('id')})"]
    for key, value in sorted((have.get("config") or {}).items()):
        lines.append(f"  {key}: {value!r}")
    return "\n".join(lines) + "\n"


def _show_wanted(name: str, wanted: dict[str, Any], differs: list[str]) -> str:
    lines = [f"container {name}: running (differs: {', '.join(differs)})"]
    for key, value in sorted(wanted.items()):
        lines.append(f"  {key}: {value!r}")
    return "\n".join(lines) + "\n"
