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
        ("md5sum", "str", "downloaded", "md5 of the file"),
        ("status_code", "int", "the server answered", "HTTP status (304: dest is current)"),
        ("msg", "str", "always", "'OK (N bytes)', 'file already exists', 'HTTP Error 304: Not Modified' (dest is "
         "current: the answer to If-Modified-Since), 'Request failed' or the checksum mismatch"),
        ("response", "str", "the server refused", "'HTTP Error 404: Not Found'"),
        ("elapsed", "int", "always", "seconds the download took"),
        ("backup_file", "str", "backup: true and replaced", "the backup's name"), *_PATH_INFO,
    ],
    "systemd": [
        ("name", "str", "always", "the unit (null for daemon_reload alone)"),
        ("status", "dict", "always", "every property of `systemctl show` before the change ({} without a name)"),
        ("enabled", "bool", "enabled was given", "enabled after the task (a static unit counts as enabled)"),
        ("state", "str", "state was given", "the state asked for; 'started' after restarted/reloaded"),
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
_EDIT_DIFF = ("diff", "list", "always (not only with --diff)",
              "[content diff (before/after text only with --diff), file attributes diff (mode before/after)]")
_EDIT_RC = ("rc", "int", "failed on the path", "256: path is a directory, 257: path does not exist")
RETURNS.update({
    "lineinfile": [
        ("msg", "str", "always", "'line added', 'line replaced', 'N line(s) removed', '' (and '... ownership, perms "
         "or SE linux context changed')"),
        ("backup", "str", "always", "the backup's name, or ''"),
        ("found", "int", "state: absent", "how many lines matched"), _EDIT_DIFF, _EDIT_RC,
    ],
    "blockinfile": [
        ("msg", "str", "always", "'Block inserted', 'Block removed', 'File created' or ''"),
        ("backup_file", "str", "backup: true and changed", "the backup's name"), _EDIT_DIFF, _EDIT_RC,
    ],
    "replace": [
        ("msg", "str", "always", "'N replacements made' or ''"), ("rc", "int", "always", "0"),
        ("backup_file", "str", "backup: true and changed", "the backup's name"),
        ("diff", "dict", "with --diff", "before/after text"),
    ],
    "ini_file": [
        ("msg", "str", "always", "'OK', 'option added', 'option changed', 'section and option added', "
         "'section removed'"),
        ("path", "str", "always", "the file"), ("backup_file", "str", "backup: true and changed", "the backup"),
        ("diff", "dict", "always", "the content diff (before/after text only with --diff)"), *_PATH_INFO,
    ],
    "uri": [
        ("status", "int", "always", "HTTP status (-1: no answer)"), ("url", "str", "always", "the final URL"),
        ("msg", "str", "always", "'OK (N bytes)', 'HTTP Error 404: Not Found', 'Status code was N and not [...]'"),
        ("redirected", "bool", "an answer came", "whether redirects were followed"),
        ("elapsed", "int", "an answer came", "seconds"),
        ("cookies", "dict", "status < 400", "cookies set by the answer"),
        ("cookies_string", "str", "status < 400", "them as a Cookie header"),
        ("content", "str", "return_content: true", "the body"),
        ("json", "any", "a JSON answer", "the body parsed"),
        ("body", "str", "status >= 400 that is accepted", "the error body"),
        ("<header>", "str", "an answer came", "every response header, lower case, '-' as '_' (content_type, ...)"),
        ("path", "str", "dest was given", "the file written (dest, or the URL's file name in a directory dest)"),
        *[(n, t, "dest was given and the file exists", d) for n, t, _w, d in _PATH_INFO],
    ],
    "user": [
        ("name", "str", "always", "the user"), ("state", "str", "always", "present or absent"),
        ("uid", "int", "present", "user id"), ("group", "int", "present", "primary group id"),
        ("groups", "str", "groups was given", "the groups asked for, comma-joined"),
        ("home", "str", "present", "home directory"), ("shell", "str", "present", "login shell"),
        ("comment", "str", "present", "GECOS"), ("create_home", "bool", "created", "create_home as given"),
        ("system", "bool", "created", "system as given"), ("append", "bool", "present, existing", "append"),
        ("move_home", "bool", "present, existing", "move_home"),
        ("force", "bool", "removed", "force as given"), ("remove", "bool", "removed", "remove as given"),
        ("ssh_public_key", "str", "generate_ssh_key", "the public key"),
        ("ssh_fingerprint", "str", "generate_ssh_key", "its fingerprint"),
        ("ssh_key_file", "str", "generate_ssh_key", "the key's path"),
        ("password", "str", "password was given", "'NOT_LOGGING_PASSWORD'"),
    ],
    "group": [
        ("name", "str", "always", "the group"), ("state", "str", "always", "present or absent"),
        ("gid", "int", "present", "group id"), ("system", "bool", "present", "system as given"),
    ],
    "yum_repository": [
        ("repo", "str", "always", "the repository id"), ("state", "str", "always", "present or absent"),
        ("diff", "dict", "always (not only with --diff)", "the .repo file before/after"),
    ],
    "pip": [
        ("cmd", "list|str", "always", "the pip command as an argv list ([python, -m, pip, install, ...]); in check "
         "mode the freeze command it read, as a string"),
        ("name", "list", "not check mode", "name as given"), ("version", "str", "not check mode", "as given"),
        ("state", "str", "not check mode", "as given"), ("requirements", "str", "not check mode", "as given"),
        ("virtualenv", "str", "not check mode", "as given"),
        ("stdout", "str", "always (not with extra_args in check mode)", "pip's output ('' when hostprep's probe "
         "found nothing to do and pip did not run; Ansible runs pip anyway: 'Requirement already satisfied')"),
        ("stderr", "str", "always (not with extra_args in check mode)", "pip's errors"),
    ],
    "cron": [
        ("jobs", "list", "a job or variable task", "the names of the `#Ansible:` jobs after the task"),
        ("envs", "list", "a job or variable task", "the variables after the task"),
        ("cron_file", "str", "cron_file was given", "as given"),
        ("state", "str", "a cron_file emptied and removed", "'absent'"),
        ("backup_file", "str", "backup: true and changed", "the backup's name"),
    ],
    "sysctl": [],
    "rpm_key": [],
    "unarchive": [
        ("dest", "str", "always", "the directory"), ("src", "str", "always", "the archive as given"),
        ("handler", "str", "always", "TgzArchive, TarArchive or ZipArchive"),
        ("files", "list", "list_files: true", "the archive's members"),
        ("extract_results", "dict", "extracted", "cmd (tar: the argv list), rc, out, err"),
        *_PATH_INFO,
    ],
    "mount": [
        ("name", "str", "always", "the mount point"), ("src", "str", "src was given", "the device"),
        ("fstype", "str", "fstype was given", "the file system"), ("opts", "str", "always", "options"),
        ("dump", "str", "always", "dump field"), ("passno", "str", "always", "pass field"),
        ("fstab", "str", "always", "the fstab file"), ("boot", "bool", "always", "mount at boot"),
        ("backup_file", "str", "always", "the backup's name, or ''"),
    ],
    "authorized_key": [
        ("user", "str", "always", "whose keys"), ("key", "str", "always", "the key(s) as given"),
        ("keyfile", "str", "always", "the keys file"), ("path", "str", "always", "path as given (or null)"),
        ("state", "str", "always", "present/absent; 'file' when path was given (the file's path info)"),
        ("exclusive", "bool", "always", "as given"), ("manage_dir", "bool", "always", "as given"),
        ("key_options", "str", "always", "as given"), ("comment", "str", "always", "as given"),
        ("follow", "bool", "always", "as given"), ("validate_certs", "bool", "always", "as given"),
        *[(n, t, "path was given", d) for n, t, _w, d in _PATH_INFO if n != "state"],
    ],
    "find": [
        ("files", "list", "always", "one stat-like dict per match (path, mode, isreg, size, uid, pw_name, mtime...)"),
        ("matched", "int", "always", "how many matched"), ("examined", "int", "always", "how many were looked at"),
        ("skipped_paths", "dict", "always", "paths that could not be searched, and why"),
        ("msg", "str", "always", "'All paths examined' or what was not"),
    ],
    "slurp": [
        ("content", "str", "always", "the file, base64"), ("encoding", "str", "always", "'base64'"),
        ("source", "str", "always", "the file"),
    ],
    "fetch": [
        ("dest", "str", "fetched", "the local copy"), ("file", "str", "fetched", "the remote file"),
        ("md5sum", "str", "fetched", "md5 of the file"), ("checksum", "str", "fetched", "sha1 of the file"),
        ("remote_checksum", "str", "fetched", "sha1 on the host"),
        ("remote_md5sum", "null", "fetched", "always null (as Ansible's)"),
    ],
    "set_fact": [("ansible_facts", "dict", "always", "the variables set"),
                 ("_ansible_facts_cacheable", "bool", "cacheable", "as given")],
    "debug": [("msg", "any", "msg given", "the message"), ("<var>", "any", "var given", "the variable's value")],
    "assert": [
        ("msg", "str", "always", "'All assertions passed', success_msg, or fail_msg / 'Assertion failed'"),
        ("assertion", "str", "failed", "the condition that was false"),
        ("evaluated_to", "bool", "failed", "false"),
    ],
    "fail": [("msg", "str", "always", "the message ('Failed as requested from task')")],
})
RETURNS["systemd_service"] = RETURNS["service"] = RETURNS["systemd"]
RETURNS["yum"] = RETURNS["package"] = RETURNS["dnf"]


def returns(module: str) -> list[Return]:
    """The module's documented result keys, then the common ones it does not list itself (no `diff` for a
    module that, as Ansible's, gives none)."""
    from hostprep.modules import get_module

    own = RETURNS.get(module, [])
    names = {r[0] for r in own}
    cls = get_module(module)
    if cls is not None and not getattr(cls, "gives_diff", True):
        names.add("diff")
    return own + [r for r in COMMON if r[0] not in names]
