"""Which lab packages exist, what they carry, and in which repositories they are published."""

from __future__ import annotations

from dataclasses import dataclass, field

DOCKER_STABLE = ["24.0.7", "25.0.5", "26.1.4"]
# Two real engines: docker-ce 26.1.4 and the test/nightly builds carry Debian trixie's docker.io and
# docker-cli 26.1.5; 24.0.7 and 25.0.5 carry bookworm's docker.io 20.10.24. A pin or a downgrade
# therefore changes what `docker version` reports, not only the RPM metadata.
TRIXIE_ENGINE_FROM = "26"
# nspawn lab hosts mount /proc/sys read-only, so dockerd 26 cannot turn IPv6 off on a container's
# interface and refuses to start the container; a real EL host (or a lab VM) does not need this
LAB_DOCKER_DROPIN = """# hostprep lab (see hostprep/lab/README.md): /proc/sys is read-only in an nspawn host
[Service]
Environment=DOCKER_ALLOW_IPV6_ON_IPV4_INTERFACE=1
"""
# Debian bookworm packages whose files make the lab's firewalld RPM (the rest of what it needs --
# dbus, python3-dbus, glib, libnftnl, libmnl -- is in every lab image already)
FIREWALLD_DEBS = ["firewalld", "python3-firewall", "python3-nftables", "libnftables1", "nftables", "libjansson4",
                  "python3-gi", "gir1.2-glib-2.0", "libgirepository-1.0-1"]
DOCKER_TEST = [("27.0.0", "0.1.rc1")]
DOCKER_NIGHTLY = [("27.1.0", "0.1.nightly")]

DOCKER_GROUP_PRE = """
local found = false
local f = io.open("/etc/group", "r")
if f then
  for line in f:lines() do if line:match("^docker:") then found = true end end
  f:close()
end
if not found then
  if rpm.execute then rpm.execute("/usr/sbin/groupadd", "-r", "docker")
  else os.execute("/usr/sbin/groupadd -r docker") end
end
"""

CRONTAB_GROUP_PRE = DOCKER_GROUP_PRE.replace("docker", "crontab")

DAEMON_RELOAD_POST = """
if posix.access("/run/systemd/system") then
  if rpm.execute then rpm.execute("/bin/systemctl", "daemon-reload")
  else os.execute("/bin/systemctl daemon-reload") end
end
"""


@dataclass
class Package:
    """One lab RPM: its name, version, the files it carries, its relations and where it is published."""

    name: str
    version: str
    release: str = "1.lab"
    epoch: int | None = None
    arch: str = "x86_64"
    # destination path -> (source kind, source detail): ("deb", "pkg:path-in-deb"), ("text", content)
    files: dict[str, tuple[str, str]] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)
    attrs: dict[str, str] = field(default_factory=dict)  # path -> %files prefix, e.g. "%attr(0700,u,g) %dir"
    skip: tuple[str, ...] = ()  # path prefixes (no leading /) a debtree source leaves out
    requires: list[str] = field(default_factory=list)
    provides: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    obsoletes: list[str] = field(default_factory=list)
    pre_lua: str = ""
    post_lua: str = ""
    summary: str = ""
    repos: list[str] = field(default_factory=list)  # "docker/stable", "base", "epel"
    releasevers: tuple[str, ...] = ("7", "8", "9")

    @property
    def nevra(self) -> str:
        epoch = f"{self.epoch}:" if self.epoch is not None else ""
        return f"{self.name}-{epoch}{self.version}-{self.release}.{self.arch}"


def _marker(name: str, version: str, repos: list[str], summary: str, **kw) -> Package:
    return Package(name=name, version=version, arch="noarch", repos=repos, summary=summary,
                   files={f"/usr/share/hostprep-lab/packages/{name}": ("text", f"{name} {version} (hostprep lab)\n")},
                   **kw)


def catalog(repo_url: str) -> list[Package]:
    """Every lab package (repo_url is where the lab serves its repositories)."""
    pkgs: list[Package] = []
    bookworm_engine = {
        "/usr/sbin/dockerd": ("deb", "docker.io:usr/sbin/dockerd"),
        "/usr/sbin/docker-proxy": ("deb", "docker.io:usr/sbin/docker-proxy"),
        "/usr/bin/docker-init": ("deb", "tini:usr/bin/tini-static"),
        "/usr/lib/systemd/system/docker.service": ("deb", "docker.io:lib/systemd/system/docker.service"),
        "/usr/lib/systemd/system/docker.socket": ("deb", "docker.io:lib/systemd/system/docker.socket"),
    }
    trixie_engine = {
        "/usr/sbin/dockerd": ("deb", "trixie-docker.io:usr/sbin/dockerd"),
        "/usr/sbin/docker-proxy": ("deb", "trixie-docker.io:usr/sbin/docker-proxy"),
        "/usr/bin/docker-init": ("deb", "tini:usr/bin/tini-static"),
        "/usr/lib/systemd/system/docker.service": ("deb", "trixie-docker.io:usr/lib/systemd/system/docker.service"),
        "/usr/lib/systemd/system/docker.socket": ("deb", "trixie-docker.io:usr/lib/systemd/system/docker.socket"),
        "/usr/lib/systemd/system/docker.service.d/hostprep-lab.conf": ("text", LAB_DOCKER_DROPIN),
    }
    channels = [("docker/stable", v, "1.lab") for v in DOCKER_STABLE]
    channels += [("docker/test", v, r) for v, r in DOCKER_TEST]
    channels += [("docker/nightly", v, r) for v, r in DOCKER_NIGHTLY]
    for repo, version, release in channels:
        trixie = version.split(".")[0] >= TRIXIE_ENGINE_FROM
        engine_files = trixie_engine if trixie else bookworm_engine
        cli = "trixie-docker-cli:usr/bin/docker" if trixie else "docker.io:usr/bin/docker"
        source = "Debian trixie's docker.io 26.1.5" if trixie else "Debian bookworm's docker.io 20.10.24"
        pkgs.append(Package(
            name="docker-ce", version=version, release=release, epoch=3, repos=[repo], files=dict(engine_files),
            requires=["docker-ce-cli", "containerd.io >= 1.6"], conflicts=["docker", "docker-engine", "docker-io",
                                                                            "podman-docker"],
            obsoletes=["docker-engine-cs", "docker-ee"], pre_lua=DOCKER_GROUP_PRE, post_lua=DAEMON_RELOAD_POST,
            summary=f"The open-source application container engine (hostprep lab build of {source})",
        ))
        pkgs.append(Package(
            name="docker-ce-cli", version=version, release=release, epoch=1, repos=[repo],
            files={"/usr/bin/docker": ("deb", cli)}, conflicts=["docker", "docker-client"],
            summary=f"The Docker CLI (hostprep lab build of {source})",
        ))
        pkgs.append(_marker("docker-ce-rootless-extras", version, [repo], "Rootless support (lab marker)",
                            release=release))
    for repo in ("docker/stable", "docker/test", "docker/nightly"):
        pkgs.append(Package(
            name="containerd.io", version="1.6.20", release="3.1.lab", repos=[repo],
            files={
                "/usr/bin/containerd": ("deb", "containerd:usr/bin/containerd"),
                "/usr/bin/containerd-shim": ("deb", "containerd:usr/bin/containerd-shim"),
                "/usr/bin/containerd-shim-runc-v1": ("deb", "containerd:usr/bin/containerd-shim-runc-v1"),
                "/usr/bin/containerd-shim-runc-v2": ("deb", "containerd:usr/bin/containerd-shim-runc-v2"),
                "/usr/bin/ctr": ("deb", "containerd:usr/bin/ctr"),
                "/usr/bin/runc": ("deb", "runc:usr/sbin/runc"),
                "/usr/lib/systemd/system/containerd.service": ("deb",
                                                               "containerd:lib/systemd/system/containerd.service"),
            },
            provides=["runc"], conflicts=["runc"], obsoletes=["runc"], post_lua=DAEMON_RELOAD_POST,
            summary="containerd and runc (hostprep lab build of Debian's containerd and runc)",
        ))
        pkgs.append(Package(
            name="docker-buildx-plugin", version="0.13.1", release="1.lab", repos=[repo],
            files={"/usr/libexec/docker/cli-plugins/docker-buildx": ("deb", "docker-buildx:usr/libexec/docker/"
                                                                           "cli-plugins/docker-buildx")},
            summary="Docker buildx plugin (hostprep lab build of Debian trixie's docker-buildx)",
        ))
        pkgs.append(Package(
            name="docker-compose-plugin", version="2.26.1", release="1.lab", repos=[repo],
            files={"/usr/libexec/docker/cli-plugins/docker-compose": ("deb", "docker-compose:usr/libexec/docker/"
                                                                             "cli-plugins/docker-compose")},
            summary="Docker Compose v2 plugin (hostprep lab build of Debian trixie's docker-compose)",
        ))
    yum_config_manager = "#!/bin/sh\n# hostprep lab yum-utils: yum-config-manager over dnf config-manager\n" \
                         "exec /usr/bin/dnf config-manager \"$@\"\n"
    pkgs.append(Package(name="yum-utils", version="1.1.31", arch="noarch", repos=["base"],
                        files={"/usr/bin/yum-config-manager": ("text", yum_config_manager)},
                        modes={"/usr/bin/yum-config-manager": 0o755}, summary="yum-config-manager (lab wrapper)"))
    for name, version in (("device-mapper-persistent-data", "0.9.0"), ("lvm2", "2.03.21"),
                          ("container-selinux", "2.221.0")):
        pkgs.append(_marker(name, version, ["base"], f"{name} (lab marker; the host has the real tools)"))
    # EL8/EL9 have dnf-plugins-core installed (baseset.py); EL7 has none, but a role may still name it
    pkgs.append(_marker("dnf-plugins-core", "4.3.0", ["base"], "dnf-plugins-core (lab marker)", releasevers=("7",)))
    for name in ("docker", "docker-client", "docker-client-latest", "docker-common", "docker-latest",
                 "docker-latest-logrotate", "docker-logrotate", "docker-engine", "podman-docker", "runc"):
        pkgs.append(_marker(name, "1.13.1" if name != "runc" else "1.1.12", ["base"],
                            f"{name}: conflicts with Docker CE (lab marker, for removal tests)"))
    epel_repo = (f"[epel]\nname=hostprep lab EPEL-like {'$'}releasever - {'$'}basearch\n"
                 f"baseurl={repo_url}/el/$releasever/epel/$basearch/\nenabled=1\ngpgcheck=1\n"
                 "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-hostprep-lab\nskip_if_unavailable=0\n")
    pkgs.append(Package(name="epel-release", version="9", release="7.lab", arch="noarch", repos=["base"],
                        files={"/etc/yum.repos.d/epel.repo": ("text", epel_repo),
                               "/etc/pki/rpm-gpg/RPM-GPG-KEY-hostprep-lab": ("key", "")},
                        summary="EPEL-like repository configuration (lab)"))
    pkgs.append(_marker("python3-pip-wheel", "21.3.1", ["epel"], "pip wheel (lab marker)"))
    pkgs.append(Package(
        name="firewalld", version="1.3.3", release="1.lab", repos=["base"],
        files={f"debtree:{deb}": ("debtree", deb) for deb in FIREWALLD_DEBS},
        requires=["dbus", "systemd"], conflicts=["iptables-services"], post_lua=DAEMON_RELOAD_POST,
        summary="firewalld with the nftables backend (hostprep lab build of Debian's firewalld and the Python "
                "and nftables libraries it needs; it runs under the lab's private Python)",
    ))
    # cronie (EL's cron) from Debian's cron: crontab and the daemon, the spool directory crontab writes and
    # /etc/cron.d (the lab image has no cron; a test installs this one from the lab repository)
    pkgs.append(Package(
        name="cronie", version="1.5.7", release="8.el9.lab", repos=["base"],
        files={"/usr/bin/crontab": ("deb", "cron:usr/bin/crontab"),
               "/usr/sbin/crond": ("deb", "cron:usr/sbin/cron"),
               "/var/spool/cron/crontabs": ("dir", ""), "/etc/cron.d": ("dir", "")},
        attrs={"/usr/bin/crontab": "%attr(2755,root,crontab)", "/etc/cron.d": "%attr(0755,root,root) %dir",
               "/var/spool/cron/crontabs": "%attr(1730,root,crontab) %dir"},
        pre_lua=CRONTAB_GROUP_PRE, summary="cron daemon and crontab (hostprep lab build of Debian's cron 3.0pl1)",
    ))
    return pkgs
