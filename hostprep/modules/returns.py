"""What each module's registered result holds: the keys of ansible-core's RETURN documentation that hostprep
gives, for `hostprep doc MODULE` (the result oracle test checks the values against ansible-playbook's)."""

from __future__ import annotations

# (name, type, when it is there, what it is)
Return = tuple[str, str, str, str]

COMMON: list[Return] = [
    ("changed", "bool", "always", "whether the task changed the host"),
    ("failed", "bool", "when the task ran", "whether the task failed"),
    ("skipped", "bool", "when skipped", "the task did not run (when: false, check mode)"),
    ("msg", "str", "when the module says something", "a message; on failure the reason"),
    ("diff", "dict", "with --diff, when there is one", "before/after of what changed"),
]

_PATH_INFO: list[Return] = [
    ("owner", "str", "the path exists", "owner's name"), ("group", "str", "the path exists", "group's name"),
    ("uid", "int", "the path exists", "owner's id"), ("gid", "int", "the path exists", "group's id"),
    ("mode", "str", "the path exists", "permissions in octal, e.g. '0644'"),
    ("size", "int", "the path exists", "size in bytes"),
    ("state", "str", "always", "file, directory, link, hard or absent"),
]

_COMMAND: list[Return] = [
    ("cmd", "list|str", "always", "the command as an argv list (shell: the command line)"),
    ("rc", "int", "always", "exit status"), ("stdout", "str", "always", "standard output"),
    ("stderr", "str", "always", "standard error"), ("stdout_lines", "list", "always", "stdout split into lines"),
    ("stderr_lines", "list", "always", "stderr split into lines"),
    ("start", "str", "the command ran", "when it started, '2026-01-01 10:00:00.123456'"),
    ("end", "str", "the command ran", "when it ended"), ("delta", "str", "the command ran", "'0:00:00.001529'"),
    ("msg", "str", "always", "'' or 'non-zero return code' or why it did not run (creates/removes)"),
]

_OUTPUT: list[Return] = [
    ("rc", "int", "always", "exit status"), ("stdout", "str", "always", "standard output, as given"),
    ("stderr", "str", "always", "standard error, as given"), ("stdout_lines", "list", "always", "lines of stdout"),
    ("stderr_lines", "list", "always", "lines of stderr"),
]

_COPY: list[Return] = [
    ("dest", "str", "success", "the destination file"),
    ("src", "str", "changed", "the source (Ansible: its temporary copy on the host)"),
    ("checksum", "str", "success", "sha1 of the content"), ("md5sum", "str", "changed", "md5 of the content"),
    ("path", "str", "unchanged content", "the destination (the file module's key)"),
    ("backup_file", "str", "changed and backup: true", "the backup's name"),
    ("diff", "list|dict", "always", "[] without --diff"), *_PATH_INFO,
]

RETURNS: dict[str, list[Return]] = {
    "command": _COMMAND,
    "shell": _COMMAND,
    "raw": _OUTPUT,
    "script": _OUTPUT,
    "stat": [
        ("stat", "dict", "always", "exists; when it does: path, mode, isdir/ischr/isblk/isreg/isfifo/islnk/issock, "
         "uid, gid, pw_name, gr_name, size, inode, dev, nlink, atime/mtime/ctime (float seconds), rusr..xoth, "
         "isuid, isgid, readable, writeable, executable, blocks, block_size, device_type, lnk_source/lnk_target "
         "(links), checksum (sha1, regular files), mimetype, charset, attributes, attr_flags, version"),
    ],
    "file": [("path", "str", "directory, file, absent", "the path"),
             ("dest", "str", "touch, link, hard", "the path"), ("src", "str", "link, hard", "the link's target"),
             *_PATH_INFO],
    "copy": _COPY,
    "template": _COPY,
    "get_url": [
        ("url", "str", "always", "the URL"), ("dest", "str", "always", "the destination file"),
        ("checksum_src", "str", "downloaded", "sha1 of the download"),
        ("checksum_dest", "str", "downloaded over an existing file", "sha1 of the file before"),
        ("md5sum", "str", "downloaded", "md5 of the file"), ("status_code", "int", "downloaded", "HTTP status"),
        ("msg", "str", "always", "'OK (N bytes)', 'file already exists' or 'Request failed'"),
        ("elapsed", "int", "always", "seconds the download took"),
        ("backup_file", "str", "backup: true and replaced", "the backup's name"), *_PATH_INFO,
    ],
    "systemd": [
        ("name", "str", "always", "the unit"),
        ("status", "dict", "a unit was named", "every property of `systemctl show` before the change"),
        ("enabled", "bool", "always", "enabled after the task"), ("state", "str", "always", "started or stopped"),
    ],
    "hostname": [
        ("name", "str", "always", "the host name"),
        ("ansible_facts", "dict", "always", "ansible_hostname, ansible_nodename, ansible_fqdn, ansible_domain"),
    ],
    "dnf": [
        ("msg", "str", "always", "'', 'Nothing to do', the check-mode sentence or the failure"),
        ("results", "list", "always", "'Installed: <nevra>' / 'Removed: <nevra>' / 'Upgraded: <nevra>' lines"),
        ("rc", "int", "always", "0 on success"), ("failures", "list", "failure", "what dnf reported"),
    ],
}
RETURNS["systemd_service"] = RETURNS["service"] = RETURNS["systemd"]
RETURNS["yum"] = RETURNS["package"] = RETURNS["dnf"]


def returns(module: str) -> list[Return]:
    """The module's documented result keys, then the common ones it does not list itself."""
    own = RETURNS.get(module, [])
    names = {r[0] for r in own}
    return own + [r for r in COMMON if r[0] not in names]
