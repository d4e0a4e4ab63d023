"""File names as UTF-8 on Python 3.6 under the C locale.

EL7's python3 and EL8's platform-python are 3.6, and a command run over ssh (what roles/runtime does) gets
the C locale: 3.6 then encodes file names as ASCII, and an image whose files have non-ASCII names (PAX
headers carry UTF-8) cannot be unpacked ("'ascii' codec can't encode character"). Python 3.7 and later
coerce the C locale to UTF-8 themselves (PEP 538/540); on 3.6 the runtime starts itself again, once, under
a UTF-8 locale the host has. Containers get the environment their image and `-e` give, not this one.
"""

import os
import sys

_ASCII = ("ascii", "ansi_x3.4-1968", "646")
_LOCALES = ("C.UTF-8", "C.utf8", "en_US.UTF-8", "en_US.utf8")
_MARK = "HOSTPREP_RUNTIME_UTF8"


def reexec_if_ascii():
    """On Python 3.6 with ASCII file names: exec the same command line again under a UTF-8 locale (no return).

    Does nothing when the encoding is already right, on a second start, or when the host has no UTF-8 locale
    (the command then runs as before and an ASCII-only image still works).
    """
    if sys.version_info >= (3, 7) or sys.getfilesystemencoding().lower() not in _ASCII or os.environ.get(_MARK):
        return
    import locale

    for name in _LOCALES:
        try:
            locale.setlocale(locale.LC_CTYPE, name)
        except locale.Error:
            continue
        try:
            with open("/proc/self/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")[:-1]
        except OSError:
            return
        env = dict(os.environ, LC_ALL=name, **{_MARK: "1"})
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, argv, env)
