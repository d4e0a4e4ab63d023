"""`hostprep-runtime build`: a Dockerfile built into an image of the store, one OCI layer per RUN, COPY and ADD.

How a build goes:

- the Dockerfile is parsed (dockerfile.py) into stages; only the stages the target needs are built;
- the whole build runs in a private mount namespace of its own: each stage's layers are mounted read-only
  (overlayfs) to read from — COPY --from, --chown names, WORKDIR — and every such mount is gone with the process;
- RUN runs in a build container with the runtime's full isolation (namespaces, seccomp, dropped capabilities,
  no network unless `RUN --network=host`): the container's overlay upper directory is its layer, written as a
  tar with OCI whiteouts for deletions (the runtime's /etc/hosts and /etc/hostname and the mount points it made
  are left out, as Docker leaves them out);
- COPY and ADD write a layer tree of their own (sources from the context, filtered by .dockerignore, never a path
  outside it, or from another stage or image);
- every step has a cache key: the parent chain, the instruction with its variables expanded, the build args in
  scope, and for COPY/ADD the content (names, modes, bytes, link targets) of what is copied. A step whose key
  is in ROOT/build-cache is not run again ("CACHED"), and its history time is reused, so an unchanged rebuild
  gives the same image ID;
- layers are tars with sorted entries, numeric owners and no user or group names: the same tree gives the
  same bytes;
- the image is named only when every step succeeded: a failed build leaves no name, and the store's gc
  removes its blobs (the build holds the store's lock while it writes).
"""

import json
import os
import posixpath
import shutil
import stat
import sys
import tarfile
import time

from hostprep.runtime import dockerfile, dockerignore, linux
from hostprep.runtime.store import MT_CONFIG, MT_LAYER, MT_MANIFEST, ImageError, sha256

DEFAULT_SHELL = ["/bin/sh", "-c"]
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# what the runtime puts into every container's root: never part of a RUN's layer (Docker mounts them)
RUNTIME_FILES = ("etc/hosts", "etc/hostname", "etc/resolv.conf")
RUNTIME_MOUNT_POINTS = ("proc", "sys", "dev")
TAIL_LINES = 15
HEALTH_DURATIONS = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod",
                    "start-interval": "StartInterval"}


class BuildError(Exception):
    """A build that cannot go on: the message names the Dockerfile line."""


class Stage:
    """What a stage has built so far: layers, image config, history, and the cache chain."""

    def __init__(self, name, index):
        self.name = name
        self.index = index
        self.layers = []  # [{"digest", "size", "diff_id"}]
        self.config = {}
        self.history = []
        self.chain = ""
        self.shell = list(DEFAULT_SHELL)
        self.args = {}  # ARGs declared in this stage and their values
        self.cmd_set = False
        self.created = None
        self.author = None
        self.base_info = {}


class Builder:
    def __init__(self, store, root, context, dockerfile_path=None, build_args=None, target=None, no_cache=False,
                 out=None, timestamp=None, network="none"):
        self.store = store
        self.root = root
        self.context = os.path.realpath(context)
        if not os.path.isdir(self.context):
            raise BuildError("build context {} is not a directory".format(context))
        self.path = dockerfile_path or os.path.join(self.context, "Dockerfile")
        self.build_args = dict(build_args or {})
        self.used_args = set()
        self.target = target
        self.no_cache = no_cache
        # `build --network`: what a RUN without --network gets (Docker's default bridge is not offered: "none"
        # unless "host" is asked for, e.g. for a RUN that installs packages from a repository)
        self.network = network
        # buildah's --timestamp (BuildKit: SOURCE_DATE_EPOCH): every file time in the layers and every history
        # time is this, so the same inputs give the same image ID even with --no-cache
        self.timestamp = timestamp
        self.out = out or sys.stdout
        self.cache_dir = os.path.join(root, "build-cache")
        self.work = None
        self.ignore = dockerignore.load(self.context)
        self.mounts = []

    def _now(self):
        when = time.gmtime() if self.timestamp is None else time.gmtime(self.timestamp)
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", when)

    # -- output --------------------------------------------------------------------------------------------------
    def say(self, text):
        self.out.write(text + "\n")
        self.out.flush()

    def fail(self, ins, message):
        raise BuildError("{}:{}: {}: {}".format(self.path, ins.line, ins.original.strip()[:200], message))

    # -- the build -----------------------------------------------------------------------------------------------
    def build(self, tags):
        try:
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise BuildError("cannot read the Dockerfile {}: {}".format(self.path, exc.strerror or exc))
        try:
            instructions, self.escape = dockerfile.parse(text, self.path)
            meta, stage_lists = dockerfile.stages(instructions, self.path)
        except dockerfile.DockerfileError as exc:
            raise BuildError(str(exc))
        self.meta_args = {}
        for ins in meta:
            for name, value in self._arg_pairs(ins, self.meta_args):
                self.meta_args[name] = self.build_args.get(name, value)
                if name in self.build_args:
                    self.used_args.add(name)
        names = self._stage_names(stage_lists)
        last = len(stage_lists) - 1
        if self.target is not None:
            if self.target.lower() not in names:
                raise BuildError("{}: target stage {!r} could not be found".format(self.path, self.target))
            last = names[self.target.lower()]
        needed = self._needed(stage_lists, names, last)
        total = sum(len(stage_lists[i]) for i in needed)
        self.step, self.total = 0, total
        for name in tags:
            from hostprep.runtime import refs

            refs.check_image_name(name)
        self._enter_private_mounts()
        lock = self.store.lock()
        try:
            self.work = os.path.join(self.root, ".build-" + os.urandom(6).hex())
            os.makedirs(self.work)
            os.makedirs(self.cache_dir, exist_ok=True)
            built = {}
            for i in sorted(needed):
                built[i] = self._build_stage(stage_lists[i], i, names, built)
            image = built[last]
            digest = self._commit(image, tags)
        finally:
            self._unmount_all()
            if self.work:
                shutil.rmtree(self.work, ignore_errors=True)
            lock.close()
        unused = sorted(set(self.build_args) - self.used_args)
        if unused:
            self.say("[Warning] one or more build-args {} were not consumed".format(unused))
        return digest

    def _stage_names(self, stage_lists):
        names = {}
        for i, stage in enumerate(stage_lists):
            words = stage[0].args.split()
            if len(words) == 3 and words[1].lower() == "as":
                name = words[2].lower()
                if name in names:
                    self.fail(stage[0], "duplicate stage name {!r}".format(words[2]))
                names[name] = i
            elif len(words) != 1:
                self.fail(stage[0], "FROM takes IMAGE [AS NAME]")
        return names

    def _needed(self, stage_lists, names, last):
        """The stages `last` depends on (FROM a stage, COPY --from a stage), itself included."""
        needed, todo = set(), [last]
        while todo:
            i = todo.pop()
            if i in needed:
                continue
            needed.add(i)
            for ins in stage_lists[i]:
                ref = None
                if ins.cmd == "FROM":
                    ref = self._expand_word(ins, ins.args.split()[0], self.meta_args)
                elif ins.cmd == "COPY" and "from" in ins.flags:
                    ref = ins.flags["from"]
                if ref is None:
                    continue
                if ref.lower() in names and names[ref.lower()] < i:
                    todo.append(names[ref.lower()])
                elif ref.isdigit() and ins.cmd == "COPY":
                    if int(ref) >= i:
                        self.fail(ins, "COPY --from={} names a stage that is not before this one".format(ref))
                    todo.append(int(ref))
        return needed

    def _expand_word(self, ins, word, env):
        try:
            return dockerfile.expand(word, env, self.escape)
        except ValueError as exc:
            self.fail(ins, str(exc))

    # -- stages --------------------------------------------------------------------------------------------------
    def _build_stage(self, instructions, index, names, built):
        frm = instructions[0]
        words = frm.args.split()
        base = self._expand_word(frm, words[0], self.meta_args)
        stage = Stage(words[2] if len(words) == 3 else None, index)
        self._announce(frm)
        if base == "scratch":
            stage.chain = sha256(b"scratch").hexdigest()
            stage.config = {"Env": ["PATH=" + DEFAULT_PATH]}
        elif base.lower() in names and names[base.lower()] < index:
            parent = built[names[base.lower()]]
            stage.layers = list(parent.layers)
            stage.config = json.loads(json.dumps(parent.config))
            stage.history = list(parent.history)
            stage.chain, stage.created, stage.shell = parent.chain, parent.created, list(parent.shell)
            stage.base_info = parent.base_info
            stage.author = parent.author
        else:
            self._from_image(frm, base, stage)
        self.stage_names, self.built = names, built
        if self.timestamp is not None:  # other layer bytes: other cache entries
            stage.chain = sha256("{} timestamp {}".format(stage.chain, self.timestamp).encode()).hexdigest()
        for ins in instructions[1:]:
            self._announce(ins)
            getattr(self, "_do_" + ins.cmd.lower())(ins, stage)
        return stage

    def _announce(self, ins):
        self.step += 1
        self.say("STEP {}/{}: {}".format(self.step, self.total, ins.original.strip()))

    def _from_image(self, ins, ref, stage):
        try:
            digest = self.store.lookup(ref)
            manifest, config = self.store.image(digest)
        except (ImageError, ValueError) as exc:
            self.fail(ins, "base image {!r}: {} (build uses local images: import or pull it first)".format(ref, exc))
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        for i, layer in enumerate(manifest.get("layers") or []):
            stage.layers.append({"digest": layer["digest"], "size": layer["size"],
                                 "diff_id": diff_ids[i] if i < len(diff_ids) else layer["digest"],
                                 "mediaType": layer.get("mediaType", MT_LAYER)})
        stage.config = json.loads(json.dumps(config.get("config") or {}))
        stage.history = list(config.get("history") or [])
        missing = len(stage.layers) - len([h for h in stage.history if not h.get("empty_layer")])
        if missing > 0:  # an imported image without history: one entry per layer, so history lines up
            stage.history[:0] = [{"created": config.get("created"), "created_by": "(layer of {})".format(ref)}
                                 for _ in range(missing)]
        stage.chain = sha256(("from " + digest).encode()).hexdigest()
        stage.created = config.get("created")
        stage.base_info = {"name": ref, "digest": digest}
        stage.author = config.get("author")

    def _env(self, stage):
        """The variables instructions see: the stage's ARGs, overridden by its ENV."""
        env = dict(stage.args)
        for item in stage.config.get("Env") or []:
            k, _, v = item.partition("=")
            env[k] = v
        return env

    # -- cache ---------------------------------------------------------------------------------------------------
    def _step(self, stage, ins, key_data, make_layer=None):
        """Advance the stage's chain by one step; `make_layer` (if any) runs unless the step is cached.

        Returns the step's cache record ({"created", "layer"?}).
        """
        key = sha256(json.dumps([stage.chain, ins.cmd, key_data], sort_keys=True).encode()).hexdigest()
        path = os.path.join(self.cache_dir, key + ".json")
        record = None
        if not self.no_cache or make_layer is None:
            record = self._cached(path, make_layer is not None)
        if record is not None and make_layer is not None:
            self.say("--> CACHED")
        if record is None:
            record = {"created": self._now()}
            if make_layer is not None:
                record["layer"] = make_layer()
            _atomic_json(path, record)
        stage.chain = key
        stage.created = record["created"]
        layer = record.get("layer")
        if layer is not None:
            stage.layers.append(layer)
        entry = {"created": record["created"], "created_by": ins.original.strip()}
        if layer is None:
            entry["empty_layer"] = True
        stage.history.append(entry)
        return record

    def _cached(self, path, needs_layer):
        try:
            with open(path, encoding="utf-8") as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            return None
        layer = record.get("layer")
        if needs_layer and (not layer or not os.path.exists(
                os.path.join(self.store.blobs, layer["digest"].split(":")[1]))):
            return None
        return record

    # -- metadata instructions -----------------------------------------------------------------------------------
    def _meta(self, ins, stage, change):
        """A step that changes only the config: `change(config)`, recorded in the chain with the result."""
        change(stage.config)
        self._step(stage, ins, {"config": stage.config, "shell": stage.shell})

    def _pairs(self, ins, stage):
        try:
            return dockerfile.key_values(ins.args, self.escape, self._env(stage), ins.cmd)
        except ValueError as exc:
            self.fail(ins, str(exc))

    def _do_env(self, ins, stage):
        pairs = self._pairs(ins, stage)

        def change(config):
            env = list(config.get("Env") or [])
            for k, v in pairs:
                for i, e in enumerate(env):
                    if e.partition("=")[0] == k:
                        env[i] = k + "=" + v
                        break
                else:
                    env.append(k + "=" + v)
            config["Env"] = env
        self._meta(ins, stage, change)

    def _do_label(self, ins, stage):
        pairs = self._pairs(ins, stage)

        def change(config):
            labels = dict(config.get("Labels") or {})
            labels.update(pairs)
            config["Labels"] = labels
        self._meta(ins, stage, change)

    def _do_maintainer(self, ins, stage):
        stage.author = json.loads(ins.args.partition("=")[2])
        self._step(stage, ins, {"config": stage.config, "author": stage.author})

    def _arg_pairs(self, ins, env):
        try:
            pairs = dockerfile.key_values(ins.args, self.escape, env, "ARG")
        except ValueError as exc:
            self.fail(ins, str(exc))
        return pairs

    def _do_arg(self, ins, stage):
        for name, default in self._arg_pairs(ins, self._env(stage)):
            if name in self.build_args:
                value = self.build_args[name]
                self.used_args.add(name)
            elif default is None:
                value = self.meta_args.get(name)
            else:
                value = default
            if value is not None:
                stage.args[name] = value
            else:
                stage.args.pop(name, None)
        # values are not part of the chain: a step sees them only through what it expands (in its own key) or,
        # for RUN, through its environment (in RUN's key), so a changed value misses from its first use on
        self._step(stage, ins, {"declared": ins.args})

    def _do_workdir(self, ins, stage):
        path = self._expand_word(ins, ins.args.strip(), self._env(stage))
        current = stage.config.get("WorkingDir") or "/"
        path = posixpath.normpath(posixpath.join(current, path))
        if path.startswith("//"):
            path = "/" + path.lstrip("/")

        def change(config):
            config["WorkingDir"] = path
        self._meta(ins, stage, change)

    def _do_user(self, ins, stage):
        user = self._expand_word(ins, ins.args.strip(), self._env(stage))

        def change(config):
            config["User"] = user
        self._meta(ins, stage, change)

    def _do_expose(self, ins, stage):
        env = self._env(stage)
        ports = {}
        for word in ins.args.split():
            port = self._expand_word(ins, word, env)
            number, _, proto = port.partition("/")
            proto = (proto or "tcp").lower()
            if proto not in ("tcp", "udp", "sctp"):
                self.fail(ins, "invalid protocol {!r} in {!r}".format(proto, port))
            first, _, end = number.partition("-")
            if not first.isdigit() or (end and not end.isdigit()):
                self.fail(ins, "invalid port {!r}".format(port))
            for n in range(int(first), int(end or first) + 1):
                ports["{}/{}".format(n, proto)] = {}

        def change(config):
            exposed = dict(config.get("ExposedPorts") or {})
            exposed.update(ports)
            config["ExposedPorts"] = exposed
        self._meta(ins, stage, change)

    def _do_volume(self, ins, stage):
        env = self._env(stage)
        words = ins.args if ins.json_form else ins.args.split()
        paths = [self._expand_word(ins, w, env) for w in words]
        if not paths or any(not p for p in paths):
            self.fail(ins, "VOLUME specified can not be an empty string")

        def change(config):
            volumes = dict(config.get("Volumes") or {})
            for p in paths:
                volumes[p] = {}
            config["Volumes"] = volumes
        self._meta(ins, stage, change)

    def _do_stopsignal(self, ins, stage):
        sig = self._expand_word(ins, ins.args.strip(), self._env(stage))

        def change(config):
            config["StopSignal"] = sig
        self._meta(ins, stage, change)

    def _do_shell(self, ins, stage):
        if not ins.args:
            self.fail(ins, "SHELL requires at least one argument")
        stage.shell = list(ins.args)

        def change(config):
            config["Shell"] = list(ins.args)
        self._meta(ins, stage, change)

    def _command(self, ins, stage):
        return list(ins.args) if ins.json_form else stage.shell + [ins.args]

    def _do_cmd(self, ins, stage):
        cmd = self._command(ins, stage)
        stage.cmd_set = True

        def change(config):
            config["Cmd"] = cmd
        self._meta(ins, stage, change)

    def _do_entrypoint(self, ins, stage):
        entrypoint = self._command(ins, stage)

        def change(config):
            config["Entrypoint"] = entrypoint
            if not stage.cmd_set:  # Docker: an ENTRYPOINT resets a CMD this stage did not set
                config["Cmd"] = None
        self._meta(ins, stage, change)

    def _do_healthcheck(self, ins, stage):
        text = ins.args.strip() if not ins.json_form else ""
        word, _, rest = text.partition(" ")
        if word.upper() == "NONE":
            if rest.strip() or ins.flags:
                self.fail(ins, "HEALTHCHECK NONE takes no other arguments")
            check = {"Test": ["NONE"]}
        elif word.upper() == "CMD":
            rest = rest.strip()
            try:
                value = json.loads(rest) if rest.startswith("[") else None
            except ValueError:
                value = None
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                check = {"Test": ["CMD"] + value}
            elif rest:
                check = {"Test": ["CMD-SHELL", rest]}
            else:
                self.fail(ins, "HEALTHCHECK CMD needs a command")
            for flag, field in HEALTH_DURATIONS.items():
                if flag in ins.flags:
                    check[field] = _duration(ins.flags[flag], lambda m: self.fail(ins, m))
            if "retries" in ins.flags:
                if not ins.flags["retries"].isdigit():
                    self.fail(ins, "HEALTHCHECK --retries must be a whole number")
                check["Retries"] = int(ins.flags["retries"])
        else:
            self.fail(ins, "HEALTHCHECK takes NONE or [OPTIONS] CMD COMMAND")

        def change(config):
            config["Healthcheck"] = check
        self._meta(ins, stage, change)

    # -- RUN ----------------------------------------------------------------------------------------------------
    def _do_run(self, ins, stage):
        network = ins.flags.get("network", "default")
        if network == "default":
            network = self.network
        if network not in ("none", "host"):
            self.fail(ins, "RUN --network={} is not supported (none, host)".format(network))
        argv = self._command(ins, stage)
        args_env = []
        config_env = set(e.partition("=")[0] for e in stage.config.get("Env") or [])
        for k, v in sorted(stage.args.items()):
            if k not in config_env:
                args_env.append(k + "=" + v)
        key = {"argv": argv, "args": args_env, "network": network}
        self._step(stage, ins, key, lambda: self._run_layer(ins, stage, argv, args_env, network))

    def _run_layer(self, ins, stage, argv, args_env, network):
        from hostprep.runtime import buildrun

        cdir, code, tail = buildrun.run_step(self, stage, argv, args_env, network)
        try:
            if code != 0:
                shown = "\n".join("  " + line for line in tail)
                self.fail(ins, "the command returned a non-zero code: {}{}".format(
                    code, "\nlast lines of its output:\n" + shown if tail else ""))
            lower = self._view(stage)
            return self._layer_from(os.path.join(cdir, "upper"), lower_view=lower, run=True)
        finally:
            buildrun.cleanup(cdir)

    # -- COPY and ADD -------------------------------------------------------------------------------------------
    def _do_copy(self, ins, stage):
        self._copy(ins, stage, add=False)

    def _do_add(self, ins, stage):
        self._copy(ins, stage, add=True)

    def _copy(self, ins, stage, add):
        from hostprep.runtime import buildcopy

        env = self._env(stage)
        words = ins.args if ins.json_form else ins.args.split()
        words = [self._expand_word(ins, w, env) for w in words]
        if len(words) < 2:
            self.fail(ins, "{} requires at least two arguments: SOURCE... DESTINATION".format(ins.cmd))
        sources, dest = words[:-1], words[-1]
        chown = self._expand_word(ins, ins.flags["chown"], env) if "chown" in ins.flags else None
        chmod = ins.flags.get("chmod")
        if chmod is not None and (not chmod or chmod.strip("01234567") or int(chmod, 8) > 0o7777):
            self.fail(ins, "--chmod={} is not an octal mode".format(chmod))
        workdir = stage.config.get("WorkingDir") or "/"
        if not dest.startswith("/"):
            dest = posixpath.join(workdir, dest) + ("/" if dest.endswith("/") or dest in (".", "./") else "")
        try:
            plan = buildcopy.Plan(self, ins, stage, sources, dest, chown, chmod, add)
        except buildcopy.CopyError as exc:
            self.fail(ins, str(exc))
        key = {"sources": plan.content_key(), "dest": dest, "chown": chown, "chmod": chmod}

        def make():
            try:
                tree = plan.write_tree()
            except buildcopy.CopyError as exc:
                self.fail(ins, str(exc))
            return self._layer_from(tree, lower_view=plan.view, run=False)
        self._step(stage, ins, key, make)

    # -- views of a stage's file tree ---------------------------------------------------------------------------
    def _enter_private_mounts(self):
        linux.unshare(linux.CLONE_NEWNS)
        linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)

    def _view(self, stage_or_layers):
        """A read-only directory showing a stage's (or a layer list's) files: an overlay of its layers."""
        layers = stage_or_layers.layers if isinstance(stage_or_layers, Stage) else stage_or_layers
        from hostprep.runtime.store import distinct_layers

        dirs = distinct_layers([self.store.unpacked(layer["digest"]) for layer in layers])
        key = sha256("\0".join(dirs).encode()).hexdigest()[:16]
        target = os.path.join(self.work, "view-" + key)
        if os.path.isdir(target):
            return target
        os.makedirs(target)
        if not dirs:
            return target
        if len(dirs) == 1:
            linux.mount(dirs[0], target, None, linux.MS_BIND)
            linux.mount(None, target, None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY)
        else:
            linux.mount("overlay", target, "overlay", linux.MS_RDONLY,
                        "lowerdir=" + ":".join(reversed(dirs)))
        self.mounts.append(target)
        return target

    def _unmount_all(self):
        for target in reversed(self.mounts):
            try:
                linux.umount(target, linux.MNT_DETACH)
            except OSError:
                pass
        self.mounts = []

    # -- layers --------------------------------------------------------------------------------------------------
    def _layer_from(self, tree, lower_view, run):
        """The layer tar of a directory tree (an overlay upper directory or a COPY tree), stored as a blob."""
        fd_path = os.path.join(self.work, "layer-" + os.urandom(4).hex() + ".tar")
        write_layer(tree, fd_path, lower_view, run, mtime=self.timestamp)
        digest, size = self.store.put_blob_file(fd_path)
        os.unlink(fd_path)
        self.store.unpacked(digest)
        return {"digest": digest, "size": size, "diff_id": digest, "mediaType": MT_LAYER}

    # -- the image ----------------------------------------------------------------------------------------------
    def _commit(self, stage, tags):
        config = {k: v for k, v in stage.config.items() if v is not None}
        image = {"architecture": _arch(), "os": "linux", "config": config,
                 "created": stage.created or self._now(),
                 "rootfs": {"type": "layers", "diff_ids": [layer["diff_id"] for layer in stage.layers]},
                 "history": stage.history}
        if stage.author:
            image["author"] = stage.author
        cfg_digest, cfg_size = self.store.put_blob(json.dumps(image, sort_keys=True).encode())
        manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
                    "config": {"mediaType": MT_CONFIG, "digest": cfg_digest, "size": cfg_size},
                    "layers": [{"mediaType": layer.get("mediaType", MT_LAYER), "digest": layer["digest"],
                                "size": layer["size"]} for layer in stage.layers]}
        m_digest, m_size = self.store.put_blob(json.dumps(manifest, sort_keys=True).encode())
        for name in tags:
            self.store.set_ref(name, m_digest, m_size)
            self.say("Successfully tagged {}".format(name))
        self.say(cfg_digest)
        return m_digest


def _arch():
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(machine, machine)


def _duration(text, fail):
    """A Go duration (30s, 1m30s, 500ms) in nanoseconds, as Docker stores HEALTHCHECK times."""
    import re

    units = {"ns": 1, "us": 1000, "µs": 1000, "ms": 10 ** 6, "s": 10 ** 9, "m": 60 * 10 ** 9, "h": 3600 * 10 ** 9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        fail("invalid duration {!r} (like 30s, 1m30s)".format(text))
    return int(sum(float(n) * units[u] for n, u in parts))


def _atomic_json(path, data):
    tmp = path + ".tmp-" + os.urandom(4).hex()
    with open(tmp, "w") as handle:
        json.dump(data, handle, sort_keys=True)
    os.replace(tmp, path)


# -- layer tars ----------------------------------------------------------------------------------------------------
def _lower_has(lower_view, rel):
    if lower_view is None:
        return None
    try:
        return os.lstat(os.path.join(lower_view, rel))
    except OSError:
        return None


def _is_whiteout(st):
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path):
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def _collect(tree, lower_view, run):
    """[(rel, lstat, kind)] of the tree, sorted; kind is "entry", "whiteout" or "opaque"."""
    entries = []

    def walk(rel_dir):
        full = os.path.join(tree, rel_dir) if rel_dir else tree
        for name in sorted(os.listdir(full)):
            rel = posixpath.join(rel_dir, name) if rel_dir else name
            st = os.lstat(os.path.join(tree, rel))
            if run and (rel in RUNTIME_FILES or rel in RUNTIME_MOUNT_POINTS):
                lower = _lower_has(lower_view, rel)
                if rel in RUNTIME_FILES or lower is None or stat.S_ISDIR(st.st_mode):
                    continue  # the runtime's own files and mount points (/dev's contents are a tmpfs)
            if _is_whiteout(st):
                entries.append((rel, st, "whiteout"))
                continue
            entries.append((rel, st, "entry"))
            if stat.S_ISDIR(st.st_mode):
                if run and _opaque(os.path.join(tree, rel)):
                    entries.append((rel, st, "opaque"))
                walk(rel)
    walk("")
    if run:  # directories only copied up around the runtime's files, unchanged and now empty: not a change
        kept = []
        for rel, st, kind in entries:
            if kind == "entry" and stat.S_ISDIR(st.st_mode) and rel == "etc":
                lower = _lower_has(lower_view, rel)
                has_child = any(r.startswith(rel + "/") for r, _, _ in entries)
                if not has_child and (lower is None or (lower.st_mode, lower.st_uid, lower.st_gid) ==
                                      (st.st_mode, st.st_uid, st.st_gid)):
                    continue
            kept.append((rel, st, kind))
        entries = kept
    return entries


def write_layer(tree, out, lower_view=None, run=False, mtime=None):
    """A tar of the tree: sorted, numeric owners, no names, OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`)."""
    links = {}
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for rel, st, kind in _collect(tree, lower_view, run):
            full = os.path.join(tree, rel)
            if kind == "whiteout":
                info = tarfile.TarInfo(posixpath.join(posixpath.dirname(rel), ".wh." + posixpath.basename(rel)))
                info.mtime = 0
                info.mode = 0o644
                tar.addfile(info)
                continue
            if kind == "opaque":
                info = tarfile.TarInfo(rel + "/.wh..wh..opq")
                info.mtime = 0
                info.mode = 0o644
                tar.addfile(info)
                continue
            info = tarfile.TarInfo(rel)
            info.mode = stat.S_IMODE(st.st_mode)
            info.uid, info.gid = st.st_uid, st.st_gid
            info.uname = info.gname = ""
            info.mtime = int(st.st_mtime) if mtime is None else mtime
            if stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif stat.S_ISLNK(st.st_mode):
                info.type = tarfile.SYMTYPE
                info.linkname = os.readlink(full)
                tar.addfile(info)
            elif stat.S_ISREG(st.st_mode):
                if st.st_nlink > 1 and (st.st_dev, st.st_ino) in links:
                    info.type = tarfile.LNKTYPE
                    info.linkname = links[(st.st_dev, st.st_ino)]
                    tar.addfile(info)
                    continue
                links[(st.st_dev, st.st_ino)] = rel
                info.size = st.st_size
                caps = _capability(full)
                if caps is not None:
                    info.pax_headers = {"SCHILY.xattr.security.capability": caps.decode("utf-8", "surrogateescape")}
                with open(full, "rb") as handle:
                    tar.addfile(info, handle)
            elif stat.S_ISFIFO(st.st_mode):
                info.type = tarfile.FIFOTYPE
                tar.addfile(info)
            # sockets and devices made by a RUN are not kept (Docker drops sockets; devices cannot be made)


def _capability(path):
    try:
        return os.getxattr(path, "security.capability", follow_symlinks=False)
    except OSError:
        return None


def parse_build_args(values):
    """--build-arg K=V (or K, taken from the environment, left out when unset there)."""
    out = {}
    for item in values or []:
        k, eq, v = item.partition("=")
        if not k:
            raise BuildError("invalid --build-arg {!r}: use NAME=VALUE".format(item))
        if eq:
            out[k] = v
        elif k in os.environ:
            out[k] = os.environ[k]
    return out
