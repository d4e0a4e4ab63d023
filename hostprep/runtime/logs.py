"""A detached container's output: written by a pump process as Docker's json-file driver writes it (one JSON
object a line: log, stream, time), rotated when it reaches max-size (`container.log`, `.1`, ... up to max-file
files), and read back by `logs` with `--since`, `--until`, `--tail` and `-t`.

Options (`--log-opt`): max-size (default 10m), max-file (default 3). A line longer than 16 KiB is cut into
records of 16 KiB, as Docker does; a last line without a newline is written when the stream ends.
"""

import os
import time

LOG = "container.log"
CHUNK = 16 * 1024
DEFAULTS = {"max-size": "10m", "max-file": "3"}


def parse_opts(values):
    """--log-opt KEY=VALUE values as {"max_size": bytes, "max_file": n}; ValueError for anything else."""
    from hostprep.runtime.cgroups import parse_size

    opts = dict(DEFAULTS)
    for value in values or []:
        key, eq, val = value.partition("=")
        if not eq or key not in DEFAULTS:
            raise ValueError("unsupported --log-opt {!r} (supported: max-size=SIZE, max-file=N)".format(value))
        opts[key] = val
    try:
        max_file = int(opts["max-file"])
    except ValueError:
        max_file = 0
    if max_file < 1:
        raise ValueError("invalid --log-opt max-file={!r}: a whole number of at least 1".format(opts["max-file"]))
    return {"max_size": parse_size(opts["max-size"]), "max_file": max_file}


def timestamp(t):
    """RFC 3339 with nanoseconds, UTC, as Docker writes log times."""
    whole = int(t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + ".{:09d}Z".format(int((t - whole) * 1e9))


def parse_time(text, now=None):
    """--since/--until: a Unix time (with fraction), an RFC 3339 time, or a duration before now (10m, 1h30m)."""
    import calendar
    import re

    now = time.time() if now is None else now
    if re.match(r"^\d+(\.\d+)?$", text):
        return float(text)
    m = re.match(r"^(\d{4}-\d\d-\d\d)(?:T(\d\d:\d\d(?::\d\d)?)(\.\d+)?)?(Z|[+-]\d\d:\d\d)?$", text)
    if m:
        clock = m.group(2) or "00:00:00"
        if clock.count(":") == 1:
            clock += ":00"
        base = calendar.timegm(time.strptime(m.group(1) + "T" + clock, "%Y-%m-%dT%H:%M:%S"))
        zone = m.group(4)
        if zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            base -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
        elif not zone:
            base = time.mktime(time.strptime(m.group(1) + "T" + clock, "%Y-%m-%dT%H:%M:%S"))
        return base + float(m.group(3) or 0)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if parts and "".join(n + u for n, u in parts) == text:
        units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
        return now - sum(float(n) * units[u] for n, u in parts)
    raise ValueError("invalid time {!r}: a Unix time, an RFC 3339 time or a duration such as 10m".format(text))


class Writer:
    """Appends records to `<cdir>/container.log`, rotating at max_size."""

    def __init__(self, cdir, max_size, max_file):
        self.path = os.path.join(cdir, LOG)
        self.max_size = max_size
        self.max_file = max_file
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self.size = os.fstat(self.fd).st_size

    def write(self, stream, data, t=None):
        from hostprep.runtime import jsonio

        line = (jsonio.dumps({"log": data.decode("utf-8", "replace"), "stream": stream,
                              "time": timestamp(time.time() if t is None else t)}) + "\n").encode()
        if self.size and self.size + len(line) > self.max_size:
            self.rotate()
        os.write(self.fd, line)
        self.size += len(line)

    def rotate(self):
        os.close(self.fd)
        if self.max_file > 1:
            for i in range(self.max_file - 1, 0, -1):
                older = self.path + ("." + str(i - 1) if i > 1 else "")
                if os.path.exists(older):
                    os.replace(older, self.path + "." + str(i))
            self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
        else:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
        self.size = 0


def pump(cdir, out_r, err_r, max_size, max_file):
    """Copy the two pipes into the log, a record a line, until both are closed by every writer."""
    import select

    writer = Writer(cdir, max_size, max_file)
    pending = {out_r: b"", err_r: b""}
    names = {out_r: "stdout", err_r: "stderr"}
    open_fds = [out_r, err_r]
    while open_fds:
        ready, _, _ = select.select(open_fds, [], [])
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except InterruptedError:
                continue
            if not data:
                if pending[fd]:
                    writer.write(names[fd], pending[fd])
                open_fds.remove(fd)
                os.close(fd)
                continue
            buf = pending[fd] + data
            while True:
                nl = buf.find(b"\n")
                if nl < 0 or nl >= CHUNK:
                    if len(buf) < CHUNK:
                        break
                    writer.write(names[fd], buf[:CHUNK])
                    buf = buf[CHUNK:]
                    continue
                writer.write(names[fd], buf[:nl + 1])
                buf = buf[nl + 1:]
            pending[fd] = buf


def start_pump(cdir, log_opts):
    """Fork the pump; the caller's stdout and stderr become its pipes. Returns the pump's pid."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    monitor = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            from hostprep.runtime.linux import close_fds_except
            from hostprep.runtime.process import die_with_parent

            die_with_parent(monitor)  # a monitor killed by `rm` (state._await_supervisor_gone) takes its pump along

            close_fds_except(keep=(out_r, err_r))  # nothing else of the monitor's (the CLI waits on one of them)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):  # nor the CLI's stdout and stderr: a caller reading them to the end would wait
                os.dup2(null, fd)
            os.close(null)
            os.setsid()
            pump(cdir, out_r, err_r, log_opts["max_size"], log_opts["max_file"])
        finally:
            os._exit(0)
    os.close(out_r)
    os.close(err_r)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.close(out_w)
    os.close(err_w)
    return pid


def records(cdir):
    """Every record of the container's log, oldest first: (time text, stream, bytes); raw lines of an older
    log format as stdout records without a time."""
    from hostprep.runtime import jsonio

    paths = []
    i = 1
    while os.path.exists(os.path.join(cdir, LOG + "." + str(i))):
        paths.insert(0, os.path.join(cdir, LOG + "." + str(i)))
        i += 1
    paths.append(os.path.join(cdir, LOG))
    for path in paths:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            continue
        for line in data.splitlines(True):
            try:
                rec = jsonio.loads(line.decode("utf-8"))
                yield rec["time"], rec["stream"], rec["log"].encode("utf-8")
            except (ValueError, KeyError, TypeError, AttributeError):
                yield None, "stdout", line


def time_of(stamp):
    return parse_time(stamp) if stamp else None


def show(cdir, since=None, until=None, tail=None, timestamps=False, follow=False, alive=None, out=None, err=None):
    """Write the selected records to out/err (binary streams); with `follow`, keep going while alive()."""
    import sys

    out = out or sys.stdout.buffer
    err = err or sys.stderr.buffer
    selected = []
    for stamp, stream, data in records(cdir):
        t = time_of(stamp)
        if since is not None and (t is None or t < since):
            continue
        if until is not None and (t is None or t > until):
            continue
        selected.append((stamp, stream, data))
    if tail is not None:
        selected = selected[-tail:] if tail > 0 else []
    for stamp, stream, data in selected:
        _emit(out, err, stamp, stream, data, timestamps)
    if not follow:
        return
    from hostprep.runtime import jsonio

    path = os.path.join(cdir, LOG)
    try:
        offset = os.path.getsize(path)
    except OSError:
        offset = 0
    while True:
        running = alive()
        try:
            with open(path, "rb") as handle:
                if os.fstat(handle.fileno()).st_size < offset:  # rotated meanwhile
                    offset = 0
                handle.seek(offset)
                chunk = handle.read()
        except FileNotFoundError:
            chunk = b""
        complete = chunk[:chunk.rfind(b"\n") + 1]
        offset += len(complete)
        for line in complete.splitlines(True):
            try:
                rec = jsonio.loads(line.decode("utf-8"))
                _emit(out, err, rec["time"], rec["stream"], rec["log"].encode("utf-8"), timestamps)
            except (ValueError, KeyError, TypeError):
                _emit(out, err, None, "stdout", line, False)
        if not running:
            return
        time.sleep(0.1)


def _emit(out, err, stamp, stream, data, timestamps):
    target = err if stream == "stderr" else out
    if timestamps and stamp:
        target.write(stamp.encode() + b" ")
    target.write(data)
    target.flush()
