"""The lab's PostgreSQL RPMs: EL's package names, Debian bookworm's PostgreSQL 15 inside.

The Docker guide's Dockerfile installs `postgresql-server postgresql-contrib postgresql-plpython
postgresql-pltcl` on centos:7 (where they are PostgreSQL 9.2.24). The lab's carry Debian's
postgresql-15 (15.20) programs, relocated nowhere: they stay in /usr/lib/postgresql/15/{bin,lib} and
/usr/share/postgresql/15 (PostgreSQL finds its share and lib directories relative to its binaries),
with EL's /usr/bin links (postgres, initdb, pg_ctl, psql, ...), EL's `postgres` user (uid 26, home
/var/lib/pgsql, made by %pre as EL's package does; gid 26 where it is free: Debian's base has 26 as
`tape`) and /var/run/postgresql owned by it. What differs
from EL7: the version (15, not 9.2), no systemd unit (`postgresql-setup` and postgresql.service are
not there: the guide runs initdb and postgres by hand), no LLVM JIT (llvmjit.so is left out: it needs
libLLVM), contrib is part of Debian's postgresql-15 so `postgresql-contrib` carries the xml2 module's
libxslt only, `postgresql-plpython` is PL/Python 3 (Debian 12 has no Python 2 build) with
libpython3.11, and `postgresql-pltcl` carries libtcl8.6. Every other library the programs load is in
every lab image already (the Debian base tree).
"""

from __future__ import annotations

from hostprep.lab.packages.catalog import Package

VERSION = "15.20"
BIN = "/usr/lib/postgresql/15/bin"
# the bookworm packages the RPMs take files from (repo.py fetches them with apt)
DEBS = ["postgresql-15", "postgresql-client-15", "libpq5", "postgresql-plpython3-15", "postgresql-pltcl-15",
        "libtcl8.6", "libpython3.11", "libxslt1.1"]
# programs EL's postgresql (client) and postgresql-server put in /usr/bin
CLIENT_PROGRAMS = ["clusterdb", "createdb", "createuser", "dropdb", "dropuser", "pg_basebackup", "pg_dump",
                   "pg_dumpall", "pg_isready", "pg_restore", "psql", "reindexdb", "vacuumdb"]
SERVER_PROGRAMS = ["initdb", "pg_controldata", "pg_ctl", "pg_resetwal", "pg_upgrade", "postgres", "postmaster",
                   "pg_checksums", "pg_rewind", "pg_waldump"]
# left out of postgresql-server: the JIT provider needs libLLVM-14, which no lab image has
SERVER_SKIP = ("usr/lib/postgresql/15/lib/llvmjit", "usr/lib/postgresql/15/lib/bitcode/")

USER_PRE = """
local function has(path, name)
  local f = io.open(path, "r")
  if not f then return false end
  for line in f:lines() do if line:sub(1, #name + 1) == name .. ":" then f:close() return true end end
  f:close()
  return false
end
local function run(...)
  if rpm.execute then return rpm.execute(...) end
  return os.execute(table.concat({...}, " "))
end
-- EL's gid 26; a lab image's Debian base has it already (tape): then any free system gid
if not has("/etc/group", "postgres") then
  if not run("/usr/sbin/groupadd", "-g", "26", "-r", "postgres") then run("/usr/sbin/groupadd", "-r", "postgres") end
end
if not has("/etc/passwd", "postgres") then
  run("/usr/sbin/useradd", "-M", "-N", "-g", "postgres", "-o", "-r", "-d", "/var/lib/pgsql", "-s", "/bin/bash",
      "-c", "PostgreSQL Server", "-u", "26", "postgres")
end
"""


def postgresql_packages() -> list[Package]:
    """postgresql-libs, postgresql, postgresql-server, postgresql-contrib, postgresql-plpython, postgresql-pltcl
    (EL7's base repository only: the guide's Dockerfile is for centos:7)."""
    common = {"version": VERSION, "release": "1.lab", "repos": ["base"], "releasevers": ("7",)}
    source = "hostprep lab build of Debian bookworm's PostgreSQL 15.20"
    client_links = {f"/usr/bin/{p}": ("link", f"{BIN}/{p}") for p in CLIENT_PROGRAMS}
    server_links = {f"/usr/bin/{p}": ("link", f"{BIN}/{p}") for p in SERVER_PROGRAMS}
    return [
        Package(name="postgresql-libs", files={"debtree:libpq5": ("debtree", "libpq5")},
                summary=f"The shared libraries required for any PostgreSQL clients ({source})", **common),
        Package(name="postgresql", files={"debtree:postgresql-client-15": ("debtree", "postgresql-client-15"),
                                          **client_links},
                requires=[f"postgresql-libs = {VERSION}"],
                summary=f"PostgreSQL client programs ({source})", **common),
        Package(name="postgresql-server",
                files={"debtree:postgresql-15": ("debtree", "postgresql-15"), **server_links,
                       "/var/lib/pgsql": ("dir", ""), "/var/run/postgresql": ("dir", "")},
                attrs={"/var/lib/pgsql": "%attr(0700,postgres,postgres) %dir",
                       "/var/run/postgresql": "%attr(0755,postgres,postgres) %dir"},
                skip=SERVER_SKIP, requires=[f"postgresql = {VERSION}", f"postgresql-libs = {VERSION}"],
                pre_lua=USER_PRE,
                summary=f"The programs needed to create and run a PostgreSQL server ({source}; no JIT)", **common),
        Package(name="postgresql-contrib", files={"debtree:libxslt1.1": ("debtree", "libxslt1.1")},
                requires=[f"postgresql-server = {VERSION}"],
                summary=f"Contributed modules: in Debian's postgresql-15 (postgresql-server); this carries the "
                        f"libxslt its xml2 module loads ({source})", **common),
        Package(name="postgresql-plpython",
                files={"debtree:postgresql-plpython3-15": ("debtree", "postgresql-plpython3-15"),
                       "debtree:libpython3.11": ("debtree", "libpython3.11")},
                requires=[f"postgresql-server = {VERSION}"],
                summary=f"The PL/Python 3 procedural language with libpython3.11 ({source})", **common),
        Package(name="postgresql-pltcl",
                files={"debtree:postgresql-pltcl-15": ("debtree", "postgresql-pltcl-15"),
                       "debtree:libtcl8.6": ("debtree", "libtcl8.6")},
                requires=[f"postgresql-server = {VERSION}"],
                summary=f"The PL/Tcl procedural language with libtcl8.6 ({source})", **common),
    ]
