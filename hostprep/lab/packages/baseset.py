"""What a minimal install of each EL release lists in its RPM database, for what a lab host really has.

A lab host's userland is Debian's (bash, coreutils, systemd, sshd, sudo, ... installed with dpkg), so
these RPMs own no program files: each owns one file, /usr/share/hostprep-lab/packages/<name>, and
carries EL's name, a version that release ships, and the dependencies that matter when something
is removed (openssh-server needs openssh, yum/dnf need the release's Python, ...). `rpm -qa`,
Ansible's package_facts and `yum remove` dependency checks then see an EL-like host; `rpm -qf
/usr/bin/bash` does not (the file belongs to no RPM). `bash` provides /bin/sh and /bin/bash, so RPMs
with shell scriptlets install as on EL. The release's Pythons are real packages (pythons.py).
"""

from __future__ import annotations

from hostprep.lab.packages.catalog import Package

# name: (epoch, version, release, arch, requires, provides) per release; release gets ".lab" appended
Entry = tuple[int | None, str, str, str, list[str], list[str]]

_BASH_PROVIDES = ["/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash"]

BASE: dict[str, dict[str, Entry]] = {
    "7": {
        "setup": (None, "2.8.71", "11.el7", "noarch", [], []),
        "filesystem": (None, "3.2", "25.el7", "x86_64", ["setup"], []),
        "basesystem": (None, "10.0", "7.el7.centos", "noarch", ["setup", "filesystem"], []),
        "centos-release": (None, "7", "9.2009.1.el7.centos", "x86_64", [], ["redhat-release = 7.9",
                                                                            "system-release = 7.9"]),
        "glibc": (None, "2.17", "326.el7_9", "x86_64", [], []),
        "bash": (None, "4.2.46", "35.el7_9", "x86_64", ["glibc"], _BASH_PROVIDES),
        "coreutils": (None, "8.22", "24.el7_9.2", "x86_64", ["glibc"], []),
        "util-linux": (None, "2.23.2", "65.el7_9.1", "x86_64", ["glibc"], []),
        "shadow-utils": (2, "4.6", "5.el7", "x86_64", ["glibc"], []),
        "passwd": (None, "0.79", "6.el7", "x86_64", [], []),
        "procps-ng": (None, "3.3.10", "28.el7", "x86_64", [], []),
        "kmod": (None, "20", "28.el7", "x86_64", [], []),
        "dbus": (1, "1.10.24", "15.el7", "x86_64", [], []),
        "systemd": (None, "219", "78.el7_9.9", "x86_64", ["util-linux", "dbus", "kmod"], []),
        "iproute": (None, "4.11.0", "30.el7", "x86_64", [], []),
        "iputils": (None, "20160308", "10.el7", "x86_64", [], []),
        "iptables": (None, "1.4.21", "35.el7", "x86_64", [], []),
        "openssh": (None, "7.4p1", "23.el7_9", "x86_64", [], []),
        "openssh-server": (None, "7.4p1", "23.el7_9", "x86_64", ["openssh", "systemd"], []),
        "openssh-clients": (None, "7.4p1", "23.el7_9", "x86_64", ["openssh"], []),
        "sudo": (None, "1.8.23", "10.el7_9.3", "x86_64", [], []),
        "curl": (None, "7.29.0", "59.el7_9.2", "x86_64", [], []),
        "ca-certificates": (None, "2023.2.60_v7.0.306", "72.el7_9", "noarch", [], []),
        "gnupg2": (None, "2.0.22", "5.el7_5", "x86_64", [], []),
        "less": (None, "458", "10.el7_9", "x86_64", [], []),
        "xz": (None, "5.2.2", "2.el7_9", "x86_64", [], []),
        "file": (None, "5.11", "37.el7", "x86_64", [], []),
        "nmap-ncat": (2, "6.40", "19.el7", "x86_64", [], ["nc"]),
        "rpm": (None, "4.11.3", "48.el7_9", "x86_64", [], []),
        "rpm-python": (None, "4.11.3", "48.el7_9", "x86_64", ["rpm", "python"], []),
        "yum": (None, "3.4.3", "168.el7.centos", "noarch", ["python", "rpm-python"], []),
    },
    "8": {
        "setup": (None, "2.12.2", "9.el8", "noarch", [], []),
        "filesystem": (None, "3.8", "6.el8", "x86_64", ["setup"], []),
        "basesystem": (None, "11", "5.el8", "noarch", ["setup", "filesystem"], []),
        "centos-stream-release": (None, "8.6", "1.el8", "noarch", [], ["centos-release = 8.6",
                                                                       "redhat-release = 8.6",
                                                                       "system-release = 8.6"]),
        "glibc": (None, "2.28", "251.el8", "x86_64", [], []),
        "bash": (None, "4.4.20", "5.el8", "x86_64", ["glibc"], _BASH_PROVIDES),
        "coreutils": (None, "8.30", "15.el8", "x86_64", ["glibc"], []),
        "util-linux": (None, "2.32.1", "46.el8", "x86_64", ["glibc"], []),
        "shadow-utils": (2, "4.6", "22.el8", "x86_64", ["glibc"], []),
        "passwd": (None, "0.80", "4.el8", "x86_64", [], []),
        "procps-ng": (None, "3.3.15", "14.el8", "x86_64", [], []),
        "kmod": (None, "25", "20.el8", "x86_64", [], []),
        "dbus": (1, "1.12.8", "26.el8", "x86_64", [], []),
        "systemd": (None, "239", "78.el8", "x86_64", ["util-linux", "dbus", "kmod"], []),
        "iproute": (None, "6.2.0", "5.el8", "x86_64", [], []),
        "iputils": (None, "20180629", "11.el8", "x86_64", [], []),
        "iptables": (None, "1.8.5", "11.el8", "x86_64", [], []),
        "openssh": (None, "8.0p1", "25.el8", "x86_64", [], []),
        "openssh-server": (None, "8.0p1", "25.el8", "x86_64", ["openssh", "systemd"], []),
        "openssh-clients": (None, "8.0p1", "25.el8", "x86_64", ["openssh"], []),
        "sudo": (None, "1.9.5p2", "1.el8_9", "x86_64", [], []),
        "curl": (None, "7.61.1", "34.el8", "x86_64", [], []),
        "ca-certificates": (None, "2023.2.60_v7.0.306", "80.0.el8", "noarch", [], []),
        "gnupg2": (None, "2.2.20", "3.el8", "x86_64", [], []),
        "less": (None, "530", "1.el8", "x86_64", [], []),
        "xz": (None, "5.2.4", "4.el8", "x86_64", [], []),
        "file": (None, "5.33", "25.el8", "x86_64", [], []),
        "nmap-ncat": (2, "7.92", "1.el8", "x86_64", [], ["nc"]),
        "rpm": (None, "4.14.3", "31.el8", "x86_64", [], []),
        "python3-rpm": (None, "4.14.3", "31.el8", "x86_64", ["rpm", "platform-python"], []),
        "python3-dnf": (None, "4.7.0", "20.el8", "noarch", ["platform-python", "python3-rpm"], []),
        "dnf": (None, "4.7.0", "20.el8", "noarch", ["python3-dnf"], []),
        "yum": (None, "4.7.0", "20.el8", "noarch", ["dnf"], []),
        "dnf-plugins-core": (None, "4.0.21", "25.el8", "noarch", ["python3-dnf"], []),
    },
    "9": {
        "setup": (None, "2.13.7", "10.el9", "noarch", [], []),
        "filesystem": (None, "3.16", "5.el9", "x86_64", ["setup"], []),
        "basesystem": (None, "11", "13.el9", "noarch", ["setup", "filesystem"], []),
        "centos-stream-release": (None, "9.0", "24.el9", "noarch", [], ["centos-release = 9",
                                                                       "redhat-release = 9",
                                                                       "system-release = 9"]),
        "glibc": (None, "2.34", "100.el9", "x86_64", [], []),
        "bash": (None, "5.1.8", "9.el9", "x86_64", ["glibc"], _BASH_PROVIDES),
        "coreutils": (None, "8.32", "35.el9", "x86_64", ["glibc"], []),
        "util-linux": (None, "2.37.4", "18.el9", "x86_64", ["glibc"], []),
        "shadow-utils": (2, "4.9", "8.el9", "x86_64", ["glibc"], []),
        "passwd": (None, "0.80", "12.el9", "x86_64", [], []),
        "procps-ng": (None, "3.3.17", "14.el9", "x86_64", [], []),
        "kmod": (None, "28", "9.el9", "x86_64", [], []),
        "dbus": (1, "1.12.20", "8.el9", "x86_64", [], []),
        "systemd": (None, "252", "32.el9", "x86_64", ["util-linux", "dbus", "kmod"], []),
        "iproute": (None, "6.2.0", "6.el9", "x86_64", [], []),
        "iputils": (None, "20210202", "9.el9", "x86_64", [], []),
        "iptables-nft": (None, "1.8.10", "2.el9", "x86_64", [], ["iptables"]),
        "openssh": (None, "8.7p1", "38.el9", "x86_64", [], []),
        "openssh-server": (None, "8.7p1", "38.el9", "x86_64", ["openssh", "systemd"], []),
        "openssh-clients": (None, "8.7p1", "38.el9", "x86_64", ["openssh"], []),
        "sudo": (None, "1.9.5p2", "10.el9", "x86_64", [], []),
        "curl": (None, "7.76.1", "29.el9", "x86_64", [], []),
        "ca-certificates": (None, "2023.2.60_v7.0.306", "90.1.el9", "noarch", [], []),
        "gnupg2": (None, "2.3.3", "4.el9", "x86_64", [], []),
        "less": (None, "590", "4.el9", "x86_64", [], []),
        "xz": (None, "5.2.5", "8.el9", "x86_64", [], []),
        "file": (None, "5.39", "16.el9", "x86_64", [], []),
        "nmap-ncat": (3, "7.92", "1.el9", "x86_64", [], ["nc"]),
        "rpm": (None, "4.16.1.3", "29.el9", "x86_64", [], []),
        "python3-rpm": (None, "4.16.1.3", "29.el9", "x86_64", ["rpm", "python3"], []),
        "python3-dnf": (None, "4.14.0", "9.el9", "noarch", ["python3", "python3-rpm"], []),
        "dnf": (None, "4.14.0", "9.el9", "noarch", ["python3-dnf"], []),
        "yum": (None, "4.14.0", "9.el9", "noarch", ["dnf"], []),
        "dnf-plugins-core": (None, "4.3.0", "1.el9", "noarch", ["python3-dnf"], []),
    },
}


def base_packages() -> list[Package]:
    """The marker RPMs of every release's base set (published in its base repository too)."""
    pkgs = []
    for rel, entries in BASE.items():
        for name, (epoch, version, release, arch, requires, provides) in entries.items():
            pkgs.append(Package(
                name=name, version=version, release=f"{release}.lab", epoch=epoch, arch=arch, releasevers=(rel,),
                repos=["base"], requires=list(requires), provides=list(provides),
                files={f"/usr/share/hostprep-lab/packages/{name}": ("text", f"{name} {version} (hostprep lab "
                                                                            "marker: the files are Debian's)\n")},
                summary=f"{name} (lab marker: the host has Debian's {name} equivalent)",
            ))
    return pkgs


def installed(rel: str) -> list[str]:
    """Names of the base set of release `rel` (the image installs these)."""
    return list(BASE[rel])
