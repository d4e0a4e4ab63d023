"""What the container's process may do: its user (looked up inside the container's root), its own session
keyring, Docker's default capabilities, no_new_privs and the seccomp filter.

Each function runs in the container's process (PID 1 or an exec'd one), after pivot_root or chroot: a name
in the image's /etc/passwd is resolved there, where every symlink resolves inside the container's root.
"""

import os

from hostprep.runtime import linux
from hostprep.runtime.state import RunError

# Docker's default capabilities (numbers from linux/capability.h)
DEFAULT_CAPS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6, "SETUID": 7,
                "SETPCAP": 8, "NET_BIND_SERVICE": 10, "NET_RAW": 13, "SYS_CHROOT": 18, "MKNOD": 27,
                "AUDIT_WRITE": 29, "SETFCAP": 31}
_MAX_ACCOUNT_FILE = 4 << 20


def _read_account_file(path):
    """An image's /etc/passwd or /etc/group, read inside the container's root: only a regular file (a fifo
    or a device would block or reach hardware), at most 4 MiB; "" when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError:
        return ""
    try:
        if os.fstat(fd).st_mode & 0o170000 != 0o100000:
            return ""
        data = os.read(fd, _MAX_ACCOUNT_FILE)
    except OSError:
        return ""
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace")


def _lookup(path, name, id_field):
    for line in _read_account_file(path).splitlines():
        parts = line.split(":")
        if len(parts) > id_field and parts[0] == name:
            try:
                return [int(x) for x in parts[2:id_field + 1]]
            except ValueError:
                raise RunError("invalid entry for {} in {}".format(name, path))
    return None


def resolve_user(text):
    """(uid, gid) for `-u user[:group]` (numbers or names of the container's /etc/passwd and /etc/group).

    Called inside the container's root. Messages name the user or group asked for, never the files' content.
    """
    if text is None or text == "":
        return 0, 0
    user, _, group = str(text).partition(":")
    if user.isdigit():
        uid, gid = int(user), None
    else:
        found = _lookup("/etc/passwd", user, 3)
        if found is None:
            raise RunError("unable to find user {}: no matching entries in passwd file".format(user))
        uid, gid = found
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            found = _lookup("/etc/group", group, 2)
            if found is None:
                raise RunError("unable to find group {}: no matching entries in group file".format(group))
            gid = found[0]
    return uid, uid if gid is None else gid


def own_session_keyring():
    """A new anonymous session keyring: keys of the caller's session (root's, on the host) are out of reach."""
    linux.join_new_session_keyring()


def drop_privileges(uid, gid):
    """Docker's capabilities as bounding set (all of them effective for root, none for another user),
    no_new_privs, then the user and group."""
    keep = 0
    for bit in DEFAULT_CAPS.values():
        keep |= 1 << bit
    for cap in range(linux.last_cap() + 1):
        if not keep & (1 << cap):
            linux.prctl(linux.PR_CAPBSET_DROP, cap)
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    os.setgroups([gid] if uid != 0 else [0])
    os.setgid(gid)
    os.setuid(uid)
    if uid == 0:
        linux.capset(keep, keep, 0)


def load_seccomp(enabled):
    """The function that installs the default filter (Docker's profile, hostprep/runtime/seccomp.py), or None
    with --security-opt seccomp=unconfined. Imported before pivot_root: the host's modules are out of reach
    after it."""
    if not enabled:
        return None
    from hostprep.runtime.seccomp import install_default_filter

    return install_default_filter


def apply_seccomp(install):
    """The last step before exec, so that the setup's own calls are not filtered."""
    if install is None:
        return
    try:
        install()
    except OSError as exc:
        raise RunError("cannot install the seccomp filter: {}".format(exc))
