"""Lab RPMs the public-role corpus installs (tests/data/galaxy_roles): EL names, Debian bookworm's programs.

`nginx`, `haproxy` and `memcached` carry Debian bookworm's real daemons (nginx 1.22.1, HAProxy 2.6.12,
memcached 1.6.18) with the libraries a lab image lacks (libevent, libopentracing), EL's systemd units
(EL9's, without their sandboxing options), EL's default configuration files and system users made in
`%pre` as EL's packages make them. `git` and the OpenJDK packages are markers: the roles only install
them, and a lab host has neither program. What differs from EL: the versions (Debian's), nginx's
compiled-in paths (Debian's: temporary files under /var/lib/nginx, no /usr/share/nginx/modules), and
the units' missing hardening (PrivateTmp, ProtectSystem, ...).
"""

from __future__ import annotations

from hostprep.lab.packages.catalog import DAEMON_RELOAD_POST, Package, _marker

# the bookworm packages the RPMs take files from (repo.py fetches them with apt)
DEBS = ["nginx", "nginx-common", "haproxy", "libopentracing-c-wrapper0", "libopentracing1", "memcached",
        "libevent-2.1-7"]


def _user_pre(name: str, home: str, comment: str) -> str:
    """Lua %pre making a system group and user (no home directory made), as EL's packages' useradd -r."""
    return f"""
local function has(path, name)
  local f = io.open(path, "r")
  if not f then return false end
  for line in f:lines() do if line:sub(1, #name + 1) == name .. ":" then f:close() return true end end
  f:close()
  return false
end
local function run(...)
  if rpm.execute then return rpm.execute(...) end
  return os.execute(table.concat({{...}}, " "))
end
if not has("/etc/group", "{name}") then run("/usr/sbin/groupadd", "-r", "{name}") end
if not has("/etc/passwd", "{name}") then
  run("/usr/sbin/useradd", "-r", "-M", "-N", "-g", "{name}", "-d", "{home}", "-s", "/sbin/nologin", "-c",
      "{comment}", "{name}")
end
"""


NGINX_UNIT = """[Unit]
Description=The nginx HTTP and reverse proxy server
After=network-online.target remote-fs.target nss-lookup.target
Wants=network-online.target

[Service]
Type=forking
PIDFile=/run/nginx.pid
ExecStartPre=/usr/bin/rm -f /run/nginx.pid
ExecStartPre=/usr/sbin/nginx -t
ExecStart=/usr/sbin/nginx
ExecReload=/usr/sbin/nginx -s reload
KillSignal=SIGQUIT
TimeoutStopSec=5
KillMode=mixed

[Install]
WantedBy=multi-user.target
"""

NGINX_CONF = """# hostprep lab nginx (EL's default layout)
user nginx;
worker_processes auto;
error_log /var/log/nginx/error.log;
pid /run/nginx.pid;

events {
    worker_connections 1024;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /var/log/nginx/access.log;
    sendfile on;
    keepalive_timeout 65;
    include /etc/nginx/conf.d/*.conf;

    server {
        listen 80;
        server_name _;
        root /usr/share/nginx/html;
    }
}
"""

HAPROXY_UNIT = """[Unit]
Description=HAProxy Load Balancer
After=network-online.target
Wants=network-online.target

[Service]
EnvironmentFile=-/etc/sysconfig/haproxy
Environment="CONFIG=/etc/haproxy/haproxy.cfg" "PIDFILE=/run/haproxy.pid" "CFGDIR=/etc/haproxy/conf.d"
ExecStartPre=/usr/sbin/haproxy -f $CONFIG -f $CFGDIR -c -q $OPTIONS
ExecStart=/usr/sbin/haproxy -Ws -f $CONFIG -f $CFGDIR -p $PIDFILE $OPTIONS
ExecReload=/usr/sbin/haproxy -f $CONFIG -f $CFGDIR -c -q $OPTIONS
ExecReload=/bin/kill -USR2 $MAINPID
KillMode=mixed
SuccessExitStatus=143
Type=notify

[Install]
WantedBy=multi-user.target
"""

HAPROXY_CFG = """# hostprep lab haproxy (EL's default, shortened)
global
    log         127.0.0.1 local2
    chroot      /var/lib/haproxy
    pidfile     /var/run/haproxy.pid
    maxconn     4000
    user        haproxy
    group       haproxy
    daemon
    stats socket /var/lib/haproxy/stats

defaults
    mode                    http
    log                     global
    timeout connect         10s
    timeout client          1m
    timeout server          1m

frontend main
    bind *:5000
    default_backend app

backend app
    balance     roundrobin
    server  app1 127.0.0.1:5001 check
"""

MEMCACHED_UNIT = """[Unit]
Description=memcached daemon
Before=httpd.service
After=network.target

[Service]
EnvironmentFile=/etc/sysconfig/memcached
ExecStart=/usr/bin/memcached -p ${PORT} -u ${USER} -m ${CACHESIZE} -c ${MAXCONN} $OPTIONS

[Install]
WantedBy=multi-user.target
"""

MEMCACHED_SYSCONFIG = 'PORT="11211"\nUSER="memcached"\nMAXCONN="1024"\nCACHESIZE="64"\nOPTIONS="-l 127.0.0.1,::1"\n'


def service_packages() -> list[Package]:
    """nginx, haproxy, memcached (real daemons), git and OpenJDK markers; base repository, every release."""
    src = "hostprep lab build of Debian bookworm's"
    pkgs = [
        Package(name="nginx", version="1.22.1", epoch=1, repos=["base"],
                files={"/usr/sbin/nginx": ("deb", "nginx:usr/sbin/nginx"),
                       "/etc/nginx/mime.types": ("deb", "nginx-common:etc/nginx/mime.types"),
                       "/etc/nginx/nginx.conf": ("text", NGINX_CONF),
                       "/etc/nginx/conf.d": ("dir", ""), "/etc/nginx/default.d": ("dir", ""),
                       "/var/log/nginx": ("dir", ""), "/var/lib/nginx": ("dir", ""),
                       "/usr/share/nginx/html/index.html": ("text", "<html><body>hostprep lab nginx</body></html>\n"),
                       "/usr/lib/systemd/system/nginx.service": ("text", NGINX_UNIT)},
                attrs={"/etc/nginx/conf.d": "%dir", "/etc/nginx/default.d": "%dir",
                       "/var/log/nginx": "%attr(0711,root,root) %dir",
                       "/var/lib/nginx": "%attr(0770,nginx,root) %dir",
                       "/etc/nginx/nginx.conf": "%config(noreplace)", "/etc/nginx/mime.types": "%config(noreplace)"},
                pre_lua=_user_pre("nginx", "/var/lib/nginx", "Nginx web server"), post_lua=DAEMON_RELOAD_POST,
                summary=f"A high performance web server ({src} nginx 1.22.1)"),
        Package(name="haproxy", version="2.6.12", repos=["base"],
                files={"/usr/sbin/haproxy": ("deb", "haproxy:usr/sbin/haproxy"),
                       "debtree:libopentracing-c-wrapper0": ("debtree", "libopentracing-c-wrapper0"),
                       "debtree:libopentracing1": ("debtree", "libopentracing1"),
                       "/etc/haproxy/haproxy.cfg": ("text", HAPROXY_CFG), "/etc/haproxy/conf.d": ("dir", ""),
                       "/var/lib/haproxy": ("dir", ""),
                       "/usr/lib/systemd/system/haproxy.service": ("text", HAPROXY_UNIT)},
                attrs={"/etc/haproxy/conf.d": "%dir", "/var/lib/haproxy": "%dir",
                       "/etc/haproxy/haproxy.cfg": "%config(noreplace)"},
                pre_lua=_user_pre("haproxy", "/var/lib/haproxy", "haproxy"), post_lua=DAEMON_RELOAD_POST,
                summary=f"HAProxy reverse proxy for high availability environments ({src} haproxy 2.6.12 and "
                        "the libopentracing libraries it links)"),
        Package(name="memcached", version="1.6.18", repos=["base"],
                files={"/usr/bin/memcached": ("deb", "memcached:usr/bin/memcached"),
                       "debtree:libevent-2.1-7": ("debtree", "libevent-2.1-7"),
                       "/etc/sysconfig/memcached": ("text", MEMCACHED_SYSCONFIG),
                       "/usr/lib/systemd/system/memcached.service": ("text", MEMCACHED_UNIT)},
                attrs={"/etc/sysconfig/memcached": "%config(noreplace)"},
                pre_lua=_user_pre("memcached", "/run/memcached", "Memcached daemon"), post_lua=DAEMON_RELOAD_POST,
                summary=f"High Performance, Distributed Memory Object Cache ({src} memcached 1.6.18 and libevent)"),
        _marker("git", "2.43.5", ["base"], "git (lab marker: no git program)"),
    ]
    for name, version, releases in (("java-1.8.0-openjdk", "1.8.0.412.b08", ("7", "8", "9")),
                                    ("java-11-openjdk", "11.0.23.0.9", ("7", "8", "9")),
                                    ("java-17-openjdk", "17.0.11.0.9", ("8", "9"))):
        pkgs.append(_marker(name, version, ["base"], f"{name} (lab marker: no Java runtime)", releasevers=releases))
    return pkgs
