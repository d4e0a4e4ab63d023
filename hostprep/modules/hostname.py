"""hostname: the host's name, with hostnamectl under systemd or /etc/hostname (and `hostname`) otherwise."""

from __future__ import annotations

from typing import Any

from hostprep.modules.base import Arg, Command, Module, Plan, ProbeResult, TaskContext, Upload
from hostprep.modules.shellutil import q, sections

PROBE = r"""echo '@@hostprep:systemd@@'
[ -d /run/systemd/system ] && command -v hostnamectl >/dev/null 2>&1 && echo yes
echo '@@hostprep:transient@@'
hostnamectl --transient status 2>/dev/null
echo '@@hostprep:static@@'
hostnamectl --static status 2>/dev/null
echo '@@hostprep:current@@'
hostname 2>/dev/null || uname -n
echo '@@hostprep:fqdn@@'
n=$(hostname 2>/dev/null || uname -n); a=$(getent ahostsv4 "$n" 2>/dev/null | awk 'NR==1{print $1}')
if [ -n "$a" ] && getent hosts "$a" >/dev/null 2>&1; then
  getent hosts "$a" | awk '{for (i = 2; i <= NF; i++) if (index($i, ".")) {print $i; exit} print $2; exit}'
else echo "$n"; fi
echo '@@hostprep:file@@'
[ -f {file} ] && cat {file}
echo '@@hostprep:network@@'
[ -f /etc/sysconfig/network ] && grep '^[[:space:]]*HOSTNAME' /etc/sysconfig/network
true"""

FILES = {"sles": "/etc/HOSTNAME"}


class HostnameModule(Module):
    reports_command_output = False
    name = "hostname"
    doc = ("Set the host's name: with use=systemd (the default where systemd runs) via hostnamectl, static and "
           "transient; with use=debian/alpine/sles by its file; with use=redhat in /etc/sysconfig/network.")
    examples = "- hostname:\n    name: web01.example.com\n"
    args = {
        "name": Arg("str", required=True, doc="The host name."),
        "use": Arg("str", choices=("alpine", "debian", "redhat", "sles", "systemd"),
                   doc="Strategy (default: systemd if the host runs it, else /etc/hostname)."),
    }


    def probe(self, args: dict[str, Any]) -> str | None:
        return PROBE.replace("{file}", q(FILES.get(args.get("use") or "", "/etc/hostname")))

    def plan(self, args: dict[str, Any], probe: ProbeResult | None, ctx: TaskContext) -> Plan:
        sec = {k: v.strip() for k, v in sections(probe.stdout if probe else "").items()}
        name = args["name"]
        use = args.get("use") or ("systemd" if sec.get("systemd") == "yes" else "file")
        use = "systemd" if use == "debian" else use
        steps: list[Any] = []
        if use == "systemd":
            if len(name) > 64:
                return Plan(failed=True, msg="name cannot be longer than 64 characters on systemd servers, "
                                             "try a shorter name")
            permanent, current = sec.get("static", ""), sec.get("transient", "")
            if permanent != name:  # permanent first, as Ansible does (NetworkManager)
                steps.append(Command(f"hostnamectl --pretty --static set-hostname {q(name)}"))
            if current != name:  # hostnamed may keep the transient name while a static one is set: then sethostname
                steps.append(Command(f"hostnamectl --transient set-hostname {q(name)}; "
                                     f"[ \"$(hostname)\" = {q(name)} ] || hostname {q(name)}"))
        elif use == "redhat":
            lines = sec.get("network", "").splitlines()
            permanent = lines[0].split("=", 1)[1].strip() if lines and "=" in lines[0] else ""
            current = permanent
            if permanent != name:
                awk = ('/^[[:space:]]*HOSTNAME/ {print "HOSTNAME=" n; f=1; next} {print} '
                       'END {if (!f) print "HOSTNAME=" n}')
                steps.append(Command(f"f=/etc/sysconfig/network; t=$(mktemp) && {{ [ -f $f ] || : > $f; }} && "
                                     f"awk -v n={q(name)} {q(awk)} $f > $t && cat $t > $f; r=$?; rm -f $t; exit $r"))
        else:  # a file: /etc/hostname (no systemd: `hostname` sets the running name), alpine, sles
            path = FILES.get(use, "/etc/hostname")
            permanent = sec.get("file", "")
            current = sec.get("current", "") if use == "file" else permanent
            if permanent != name:
                steps.append(Upload(f"{name}\n".encode(), path, mode="0644"))
            if use == "alpine" and permanent != name:
                steps.append(Command(f"hostname -F {q(path)}"))
            elif use == "file" and current != name:
                steps.append(Command(f"hostname {q(name)}"))
        before = current if name != current else permanent
        fqdn = sec.get("fqdn") or name if not steps else name
        # with the ansible_ prefix, as Ansible's module returns them (kept as the facts hostname, nodename, ...)
        facts = {"ansible_hostname": name.split(".")[0], "ansible_nodename": name, "ansible_fqdn": fqdn,
                 "ansible_domain": ".".join(fqdn.split(".")[1:])}
        diff = {"before": f"hostname = {before}\n", "after": f"hostname = {name}\n"} if steps else None
        result: dict[str, Any] = {"name": name, "ansible_facts": facts}
        if diff:
            result["diff"] = dict(diff)  # Ansible's hostname returns its diff with or without --diff
        return Plan(bool(steps), steps, diff=diff, result=result)
