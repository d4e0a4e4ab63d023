"""Pure planning of the added modules from probe outputs captured on real hosts (EL9 lab, Debian 12)."""

from __future__ import annotations

import base64
import time

import pytest

from hostprep.errors import ModuleArgError
from hostprep.modules import get_module
from hostprep.modules.authorized_key import edit_keys, parse_key
from hostprep.modules.base import Command, ProbeResult, TaskContext, Upload
from hostprep.modules.cron import edit_crontab, strip_header
from hostprep.modules.find import name_matches, parse_age, parse_entries, parse_size
from hostprep.modules.getent import parse_getent
from hostprep.modules.package_facts import parse_dpkg, parse_rpm
from hostprep.modules.replace import replace_text
from hostprep.modules.service_facts import parse_services


def plan(name: str, raw: dict, stdout: str, *, check: bool = False):
    mod = get_module(name)()
    args = mod.validate(raw)
    ctx = TaskContext(transport=None, host="h1", check_mode=check)  # type: ignore[arg-type]
    return mod.plan(args, ProbeResult(0, stdout), ctx)


def textfile_probe(content: str | None, mode: str = "644") -> str:
    if content is None:
        return "@@hostprep:stat@@\nkind=absent\n@@hostprep:content@@\n"
    return (f"@@hostprep:stat@@\nkind=file\nmode={mode}\nuid=0\ngid=0\nowner=root\ngroup=root\nsize={len(content)}\n"
            f"mtime=1\natime=1\ninode=2\ndev=3\nnlink=1\n@@hostprep:content@@\n"
            f"{base64.b64encode(content.encode()).decode()}\n")


# -- replace ---------------------------------------------------------------------------------------
HOSTS = "127.0.0.1 localhost\n10.0.0.5 old.host.name old\n10.0.0.6 other.host\n"


def test_replace_backrefs_multiline_and_count() -> None:
    new, msg = replace_text(HOSTS, r"(\s+)old\.host\.name(\s+.*)?$", r"\1new.host.name\2")
    assert new == "127.0.0.1 localhost\n10.0.0.5 new.host.name old\n10.0.0.6 other.host\n"
    assert msg == "1 replacements made"
    assert replace_text(new, r"(\s+)old\.host\.name(\s+.*)?$", r"\1new.host.name\2") == (new, "")


def test_replace_after_before_limit_the_section() -> None:
    text = "a=1\n[s]\na=1\n[t]\na=1\n"
    assert replace_text(text, "^a=1$", "a=2", after=r"\[s\]", before=r"\[t\]")[0] == "a=1\n[s]\na=2\n[t]\na=1\n"
    assert replace_text(text, "^a=1$", "a=2", after=r"\[t\]")[0] == "a=1\n[s]\na=1\n[t]\na=2\n"
    assert replace_text(text, "^a=1$", "a=2", before=r"\[s\]")[0] == "a=2\n[s]\na=1\n[t]\na=1\n"
    same, msg = replace_text(text, "a", "b", after="nomatch")
    assert same == text
    assert msg == "Pattern for before/after params did not match the given file: nomatch(?P<subsection>.*)"


def test_replace_plan_writes_only_on_change_and_reports_like_ansible() -> None:
    raw = {"path": "/etc/hosts", "regexp": r"old\.host", "replace": "new.host"}
    p = plan("replace", raw, textfile_probe(HOSTS))
    assert p.changed and isinstance(p.steps[0], Upload) and p.steps[0].data.decode().count("new.host") == 1
    assert p.result == {"msg": "1 replacements made", "rc": 0}
    assert plan("replace", raw, textfile_probe(HOSTS.replace("old.host", "new.host"))).changed is False
    p = plan("replace", {**raw, "mode": "0600"}, textfile_probe(HOSTS.replace("old.host", "new.host")))
    assert p.changed and p.result["msg"] == "ownership, perms or SE linux context changed"
    assert [s.cmd for s in p.steps] == ["chmod 0600 /etc/hosts"]
    missing = plan("replace", raw, textfile_probe(None))
    assert missing.failed and missing.msg == "Path /etc/hosts does not exist !" and missing.result["rc"] == 257


def test_replace_backup_and_validate_steps() -> None:
    p = plan("replace", {"path": "/etc/sudoers", "regexp": "^#%wheel", "replace": "%wheel", "backup": True,
                         "validate": "visudo -cf %s"}, textfile_probe("#%wheel ALL=(ALL) ALL\n"))
    cmds = [s.cmd if isinstance(s, Command) else f"upload {s.dest}" for s in p.steps]
    assert cmds[0].startswith("cp -p /etc/sudoers '/etc/sudoers.") and p.result["backup_file"] in cmds[0]
    assert cmds[1] == "upload /etc/sudoers.hostprep-new"
    assert cmds[2].startswith("visudo -cf /etc/sudoers.hostprep-new")


def test_replace_bad_regexp_is_refused() -> None:
    with pytest.raises(ModuleArgError, match="Unable to process replace due to error"):
        replace_text("x", "(", "y")


# -- hostname --------------------------------------------------------------------------------------
EL9_HOSTNAME_PROBE = ("@@hostprep:systemd@@\nyes\n@@hostprep:transient@@\nmods-1\n@@hostprep:static@@\nmods-1\n"
                      "@@hostprep:current@@\nmods-1\n@@hostprep:fqdn@@\nmods-1\n@@hostprep:file@@\nmods-1\n"
                      "@@hostprep:network@@\n")


def test_hostname_systemd_sets_static_then_transient() -> None:
    p = plan("hostname", {"name": "web01.example.com"}, EL9_HOSTNAME_PROBE)
    assert [s.cmd for s in p.steps] == ["hostnamectl --pretty --static set-hostname web01.example.com",
                                        "hostnamectl --transient set-hostname web01.example.com; "
                                        '[ "$(hostname)" = web01.example.com ] || hostname web01.example.com']
    assert p.diff == {"before": "hostname = mods-1\n", "after": "hostname = web01.example.com\n"}
    facts = p.result["ansible_facts"]
    assert facts["ansible_hostname"] == "web01" and facts["ansible_domain"] == "example.com"
    assert plan("hostname", {"name": "mods-1"}, EL9_HOSTNAME_PROBE).changed is False


def test_hostname_without_systemd_writes_etc_hostname() -> None:
    probe = EL9_HOSTNAME_PROBE.replace("@@hostprep:systemd@@\nyes\n", "@@hostprep:systemd@@\n")
    p = plan("hostname", {"name": "db1"}, probe)
    assert isinstance(p.steps[0], Upload) and p.steps[0].dest == "/etc/hostname" and p.steps[0].data == b"db1\n"
    assert p.steps[1].cmd == "hostname db1"
    with pytest.raises(ModuleArgError):
        get_module("hostname")().validate({"name": "x", "use": "nosuch"})
    long = plan("hostname", {"name": "a" * 65}, EL9_HOSTNAME_PROBE)
    assert long.failed and "64 characters" in long.msg


# -- cron ------------------------------------------------------------------------------------------
def cron_args(**kw) -> dict:
    return get_module("cron")().validate({"name": "backup", "job": "/usr/local/bin/backup.sh", **kw})


def test_cron_add_update_remove_like_ansible() -> None:
    args = cron_args(minute="0", hour="5,2")
    lines, changed = edit_crontab([], args, False)
    assert changed and lines == ["#Ansible: backup", "0 5,2 * * * /usr/local/bin/backup.sh"]
    assert edit_crontab(lines, args, False) == (lines, False)
    moved, changed = edit_crontab(lines, cron_args(minute="30", hour="5,2"), False)
    assert changed and moved[1] == "30 5,2 * * * /usr/local/bin/backup.sh"
    gone, changed = edit_crontab(["MAILTO=x", *lines], cron_args(state="absent"), False)
    assert changed and gone == ["MAILTO=x"]


def test_cron_file_special_time_disabled_and_adopted_job() -> None:
    args = cron_args(special_time="daily", user="root", cron_file="backup", disabled=True)
    assert edit_crontab([], args, True)[0] == ["#Ansible: backup", "#@daily root /usr/local/bin/backup.sh"]
    adopted, changed = edit_crontab(["* * * * * /usr/local/bin/backup.sh"], cron_args(), False)
    assert changed and adopted == ["#Ansible: backup", "* * * * * /usr/local/bin/backup.sh"]


def test_cron_env_variables() -> None:
    env = get_module("cron")().validate({"name": "PATH", "env": True, "job": "/usr/bin:/bin"})
    lines, changed = edit_crontab(["#Ansible: x", "* * * * * true"], env, False)
    assert changed and lines[0] == 'PATH="/usr/bin:/bin"'
    after = get_module("cron")().validate({"name": "SHELL", "env": True, "job": "/bin/sh", "insertafter": "PATH"})
    assert edit_crontab(lines, after, False)[0][1] == 'SHELL="/bin/sh"'


def test_cron_argument_errors_are_ansibles() -> None:
    cron = get_module("cron")()
    with pytest.raises(ModuleArgError, match="special_time with any of the time"):
        cron.validate({"name": "x", "job": "y", "special_time": "daily", "hour": "1"})
    with pytest.raises(ModuleArgError, match="you must specify user"):
        cron.validate({"name": "x", "job": "y", "cron_file": "x"})
    with pytest.raises(ModuleArgError, match="Will not manage /etc/crontab"):
        cron.validate({"name": "x", "job": "y", "cron_file": "/etc/crontab", "user": "root"})


def test_cron_user_crontab_plan_pipes_into_crontab_and_strips_header() -> None:
    listing = ("# DO NOT EDIT THIS FILE - edit the master and reinstall.\n# (/tmp/crontab.X installed on Mon)\n"
               "# (Cron version -- $Id: crontab.c,v 2.13 1994/01/17 03:20:37 vixie Exp $)\nMAILTO=ops\n")
    assert strip_header(listing)[0] == ["MAILTO=ops"]
    stdout = f"@@hostprep:crontab@@\nyes\n@@hostprep:content@@\n{base64.b64encode(listing.encode()).decode()}\n"
    p = plan("cron", {"name": "b", "job": "true", "user": "app"}, stdout)
    assert p.changed and p.steps[0].cmd.startswith("t=$(mktemp /tmp/crontab")  # a file under /tmp, as Ansible's
    assert p.steps[0].cmd.endswith('crontab -u app "$t"; r=$?; rm -f "$t"; exit $r')
    assert p.steps[0].stdin == b"MAILTO=ops\n#Ansible: b\n* * * * * true\n"
    assert p.result == {"jobs": ["b"], "envs": ["MAILTO"]}
    nocron = plan("cron", {"name": "b", "job": "true"}, "@@hostprep:crontab@@\n@@hostprep:content@@\n")
    assert nocron.failed and "crontab" in nocron.msg


def test_cron_file_emptied_is_removed() -> None:
    content = "#Ansible: b\n* * * * * root true\n"
    listed = f"@@hostprep:exists@@\nyes\n@@hostprep:content@@\n{base64.b64encode(content.encode()).decode()}\n"
    p = plan("cron", {"name": "b", "state": "absent", "cron_file": "hp"}, "@@hostprep:crontab@@\nyes\n" + listed)
    assert [s.cmd for s in p.steps] == ["rm -f -- /etc/cron.d/hp"]
    assert p.diff["after_header"] == "/dev/null"


def test_cron_file_without_the_crontab_program_fails_as_ansible() -> None:
    """Ansible's cron requires `crontab` even when it writes a cron_file itself (CronTab.__init__)."""
    listed = "@@hostprep:exists@@\n@@hostprep:content@@\n"
    p = plan("cron", {"name": "b", "job": "true", "cron_file": "hp", "user": "root"}, "@@hostprep:crontab@@\n" + listed)
    assert p.failed and 'required executable "crontab"' in p.msg


# -- getent ----------------------------------------------------------------------------------------
def test_getent_shapes() -> None:
    out = "root:x:0:0:root:/root:/bin/bash\nhpuser:x:1001:1001::/home/hpuser:/bin/bash\n"
    assert parse_getent(out, ":")["hpuser"] == ["x", "1001", "1001", "", "/home/hpuser", "/bin/bash"]
    hosts = parse_getent("127.0.0.1       localhost\n127.0.0.1       localhost\n", None)
    assert hosts == {"127.0.0.1": [["localhost"], ["localhost"]]}
    missing = "@@hostprep:out@@\n@@hostprep:rc@@\n2\n"
    p = plan("getent", {"database": "passwd", "key": "nobody-x", "fail_key": False}, missing)
    assert p.result["ansible_facts"] == {"getent_passwd": {"nobody-x": None}}
    p = plan("getent", {"database": "passwd", "key": "nobody-x"}, missing)
    assert p.failed and p.msg == "One or more supplied key could not be found in the database."


# -- find ------------------------------------------------------------------------------------------
NOW = f"{time.time() - 60:.10f}"  # the find -printf lines of a tree made a minute ago, b.log long ago
FIND_OUT = (
    f"f\t644\t2\t0\t0\troot\troot\t2147390\t65024\t1\t{NOW}\t{NOW}\t{NOW}\t1\t/d/a.log\n"
    f"d\t755\t4096\t0\t0\troot\troot\t2147389\t65024\t2\t{NOW}\t{NOW}\t{NOW}\t1\t/d/.hid\n"
    f"f\t600\t5000\t0\t0\troot\troot\t2147391\t65024\t1\t{NOW}\t1000.0000000000\t{NOW}\t2\t/d/.hid/b.log\n"
    f"l\t777\t5\t0\t0\troot\troot\t2147392\t65024\t1\t{NOW}\t{NOW}\t{NOW}\t1\t/d/ln\n")


def test_find_entries_filters_and_units() -> None:
    entries = parse_entries(FIND_OUT)
    assert entries[0]["path"] == "/d/a.log" and entries[0]["isreg"] and entries[0]["mode"] == "0644"
    assert entries[3]["islnk"] and entries[1]["isdir"] and entries[2]["size"] == 5000
    assert parse_age("2d") == 172800 and parse_age("-1w") == -604800 and parse_size("5k") == 5120
    assert name_matches("a.log", ["*.log"], None, False) and not name_matches("a.log", ["*.log"], ["a*"], False)
    assert name_matches("a.log", [r"a\.\w+"], None, True) and not name_matches("xa.log", ["a"], None, True)


def test_find_plan_applies_ansibles_rules() -> None:
    stdout = "@@hostprep:p0@@\n" + FIND_OUT
    paths = lambda **kw: [f["path"] for f in plan("find", {"paths": "/d", **kw}, stdout).result["files"]]  # noqa: E731
    assert paths() == ["/d/a.log", "/d/.hid/b.log"]  # only the name is hidden-checked, as in Ansible
    assert paths(hidden=True, file_type="any") == ["/d/a.log", "/d/.hid", "/d/.hid/b.log", "/d/ln"]
    assert paths(size="1k") == ["/d/.hid/b.log"]
    assert paths(age="1d") == ["/d/.hid/b.log"] and paths(age="-1d") == ["/d/a.log"]
    assert paths(age="30s", age_stamp="atime") == ["/d/a.log", "/d/.hid/b.log"]
    assert paths(file_type="link") == ["/d/ln"]
    res = plan("find", {"paths": ["/d", "/nope"]}, stdout + "@@hostprep:p1@@\nMISSING\n").result
    assert res["skipped_paths"] == {"/nope": "'/nope' is not a directory"} and res["examined"] == 4
    assert plan("find", {"paths": "/d", "age": "2x"}, stdout).failed


# -- authorized_key --------------------------------------------------------------------------------
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl deploy@ci"
OTHER = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 old@laptop"


def ak(**kw) -> dict:
    return get_module("authorized_key")().validate({"user": "deploy", "key": KEY, **kw})


def test_authorized_key_add_options_exclusive_absent() -> None:
    text, write = edit_keys(OTHER + "\n", ak())
    assert write and text == OTHER + "\n" + KEY + "\n"
    assert edit_keys(text, ak()) == (text, False)
    opts, write = edit_keys(text, ak(key_options='no-pty,from="10.0.0.1,10.0.0.2"'))
    assert write and opts.splitlines()[1] == 'no-pty,from="10.0.0.1,10.0.0.2" ' + KEY
    only, write = edit_keys(text, ak(exclusive=True))
    assert write and only == KEY + "\n"
    assert edit_keys(text, ak(state="absent")) == (OTHER + "\n", True)
    assert parse_key("# a comment\n", 0)[1] == "skipped" and parse_key("garbage", 0) is None
    with pytest.raises(ValueError, match="invalid key specified"):
        edit_keys("", ak(key="not a key"))


def test_authorized_key_plan_makes_dir_and_file_owned_by_user() -> None:
    stdout = ("@@hostprep:user@@\nuid=1001\ngid=1001\ngroup=deploy\nfile=/home/deploy/.ssh/authorized_keys\n"
              "@@hostprep:content@@\n")
    p = plan("ansible.posix.authorized_key", {"user": "deploy", "key": KEY}, stdout)
    assert "mkdir -m 0700 /home/deploy/.ssh" in p.steps[0].cmd and "chown 1001:1001" in p.steps[0].cmd
    up = p.steps[1]
    assert (up.dest, up.mode, up.owner, up.group, up.data) == ("/home/deploy/.ssh/authorized_keys", "0600", "deploy",
                                                              "deploy", (KEY + "\n").encode())
    assert p.result["keyfile"] == "/home/deploy/.ssh/authorized_keys"
    nouser = plan("authorized_key", {"user": "ghost", "key": KEY}, "@@hostprep:nouser@@\n")
    assert nouser.failed and nouser.msg.startswith("Failed to lookup user ghost")


# -- package_facts / service_facts -----------------------------------------------------------------
RPM_OUT = ("bash\t5.2.15\t2.el9\t(none)\tx86_64\nkernel\t5.14.0\t362.el9\t(none)\tx86_64\n"
           "kernel\t5.14.0\t380.el9\t(none)\tx86_64\ndocker-ce\t24.0.7\t1.el9\t3\tx86_64\n")
DPKG_OUT = "ii \tbash\t5.2.15-2+b8\tamd64\tshells\t\nrc \tgone\t1.0\tamd64\tlibs\t\n"


def test_package_facts_shapes() -> None:
    rpm = parse_rpm(RPM_OUT)
    assert rpm["bash"] == [{"name": "bash", "version": "5.2.15", "release": "2.el9", "epoch": None, "arch": "x86_64",
                            "source": "rpm"}]
    assert len(rpm["kernel"]) == 2 and rpm["docker-ce"][0]["epoch"] == "3"
    deb = parse_dpkg(DPKG_OUT)
    assert list(deb) == ["bash"] and deb["bash"][0]["version"] == "5.2.15-2+b8" and deb["bash"][0]["source"] == "apt"
    both = f"@@hostprep:rpm@@\n{RPM_OUT}@@hostprep:apt@@\n{DPKG_OUT}"
    assert set(plan("package_facts", {}, both).result["ansible_facts"]["packages"]) == {"bash", "kernel", "docker-ce"}
    assert "gone" not in plan("package_facts", {"strategy": "all"}, both).result["ansible_facts"]["packages"]
    assert plan("package_facts", {"manager": "portage"}, both).failed


UNITS = """UNIT                     LOAD      ACTIVE   SUB     DESCRIPTION
dbus.service             loaded    active   running D-Bus System Message Bus
e2scrub_reap.service     loaded    inactive dead    Remove Stale Online ext4 Metadata Check Snapshots
hostprep-test.service    loaded    failed   failed  hostprep test
nfs.service              not-found inactive dead    nfs.service

4 loaded units listed.
"""
UNIT_FILES = """UNIT FILE                  STATE    PRESET
dbus.service               static   -
e2scrub_reap.service       enabled  enabled
hostprep-test.service      enabled  enabled
sshd.service               enabled  enabled
getty@.service             enabled  enabled
rescue.service             static   -

6 unit files listed.
"""
SHOW = "Id=sshd.service\nActiveState=active\n\nId=rescue.service\nActiveState=inactive\n\n"


def test_service_facts_merge_units_and_files() -> None:
    s = parse_services(UNITS, UNIT_FILES, SHOW)
    assert s["dbus.service"] == {"name": "dbus.service", "state": "running", "status": "static", "source": "systemd"}
    assert s["e2scrub_reap.service"]["state"] == "stopped" and s["e2scrub_reap.service"]["status"] == "enabled"
    assert s["hostprep-test.service"]["status"] == "failed"
    assert s["nfs.service"]["status"] == "not-found"
    assert s["sshd.service"]["state"] == "active" and s["getty@.service"]["state"] == "unknown"
    assert plan("service_facts", {}, "").result["skipped"] is True


# -- mount -----------------------------------------------------------------------------------------
FSTAB = ("# /etc/fstab\nUUID=1b2c / xfs defaults 0 0\n/dev/sdb1 /data xfs noatime 0 2\n"
         "/swapfile none swap sw 0 0\n/dev/sdc1   /old ext4 defaults\n")


def mount_want(**kw) -> dict:
    mod = get_module("mount")()
    return mod.wanted(mod.validate({"path": "/data", "src": "/dev/sdb1", "fstype": "xfs", "state": "present", **kw}))


def test_mount_fstab_edits() -> None:
    from hostprep.modules.mount import set_fstab, unset_fstab

    assert set_fstab(FSTAB, mount_want(opts="noatime", passno="2")) == (FSTAB, False)
    new, changed = set_fstab(FSTAB, mount_want(opts="noatime,nodev", passno="2"))
    assert changed and "/dev/sdb1 /data xfs noatime,nodev 0 2\n" in new and new.count("/data") == 1
    added, changed = set_fstab(FSTAB, mount_want(path="/srv/my data", src="tmpfs", fstype="tmpfs", boot=False))
    assert changed and added.endswith("tmpfs /srv/my\\040data tmpfs defaults,noauto 0 0\n")
    short, changed = set_fstab(FSTAB, mount_want(path="/old", src="/dev/sdc1", fstype="ext4"))
    assert not changed  # a four-field line means dump=0 passno=0
    assert unset_fstab(FSTAB, mount_want()) == (FSTAB.replace("/dev/sdb1 /data xfs noatime 0 2\n", ""), True)
    swap = mount_want(path="none", src="/other", fstype="swap")
    assert set_fstab(FSTAB, swap)[0].endswith("/other none swap defaults 0 0\n")  # swap told apart by src


def test_mount_plans() -> None:
    fstab = f"@@hostprep:fstab@@\n{base64.b64encode(FSTAB.encode()).decode()}\n"
    raw = {"path": "/data", "src": "/dev/sdb1", "fstype": "xfs", "opts": "noatime", "passno": "2"}
    unmounted = plan("mount", {**raw, "state": "mounted"}, fstab + "@@hostprep:path@@\nexists\n@@hostprep:mounted@@\n")
    assert [s.cmd for s in unmounted.steps] == ["mount /data || exit 1"]
    mounted = fstab + "@@hostprep:path@@\nexists\n@@hostprep:mounted@@\n/dev/sdb1 xfs\n"
    assert plan("mount", {**raw, "state": "mounted"}, mounted).changed is False
    p = plan("mount", {**raw, "opts": "noatime,nodev", "state": "mounted"}, mounted)
    assert isinstance(p.steps[0], Upload) and "mount -o remount /data" in p.steps[1].cmd
    assert "base64 -d > /etc/fstab" in p.steps[1].cmd  # a failed remount puts the old fstab back
    gone = plan("mount", {"path": "/data", "state": "absent"}, mounted)
    assert [s.cmd for s in gone.steps[1:]] == ["umount /data", "rmdir /data"]
    assert [s.cmd for s in plan("mount", {"path": "/data", "state": "unmounted"}, mounted).steps] == ["umount /data"]
    with pytest.raises(ModuleArgError, match="missing: src, fstype"):
        get_module("mount")().validate({"path": "/x", "state": "mounted"})
