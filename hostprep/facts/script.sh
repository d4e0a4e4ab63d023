# hostprep facts: one POSIX sh script, one round trip; prints sections the parser reads.
echo "@@os-release"; cat /etc/os-release 2>/dev/null
echo "@@redhat-release"; cat /etc/redhat-release 2>/dev/null
echo "@@debian_version"; cat /etc/debian_version 2>/dev/null
echo "@@uname"; uname -s; uname -r; uname -v; uname -m; uname -n
echo "@@hostname"; hostname 2>/dev/null; hostname -f 2>/dev/null || hostname
echo "@@meminfo"; grep -E '^(MemTotal|MemFree|Buffers|Cached|SwapCached|SwapTotal|SwapFree):' /proc/meminfo 2>/dev/null
echo "@@cpuinfo"; grep -c '^processor' /proc/cpuinfo 2>/dev/null; grep '^physical id' /proc/cpuinfo 2>/dev/null | sort -u | wc -l; grep -m1 '^cpu cores' /proc/cpuinfo 2>/dev/null | cut -d: -f2
echo "@@nproc"; nproc 2>/dev/null
echo "@@id"; id -u; id -g; id -un; echo "$HOME"; echo "$SHELL"
echo "@@pkgmgr"; for p in dnf yum apt-get zypper apk; do command -v $p >/dev/null 2>&1 && echo $p; done
echo "@@init"; if [ -d /run/systemd/system ]; then echo systemd; else cat /proc/1/comm 2>/dev/null; fi
echo "@@route"; ip -4 route show default 2>/dev/null | head -n1
echo "@@addrs"; ip -4 -o addr show 2>/dev/null
echo "@@python"; for p in python3 /usr/libexec/platform-python python; do if command -v $p >/dev/null 2>&1; then command -v $p; $p -V 2>&1; break; fi; done
echo "@@selinux"; if command -v getenforce >/dev/null 2>&1; then getenforce; else echo disabled; fi
echo "@@virt"; (systemd-detect-virt 2>/dev/null || echo none)
echo "@@machine-id"; cat /etc/machine-id 2>/dev/null
echo "@@date"; date +%s; date +%Y-%m-%dT%H:%M:%S%z; date +%Z
echo "@@env"; env 2>/dev/null
echo "@@mounts"; cat /proc/mounts 2>/dev/null
echo "@@end"
