"""Comparing --list-hosts output with ansible-playbook's, which lists a play's hosts in set order (it
varies between runs): the host lines of each play are compared sorted."""

from __future__ import annotations


def hosts_sorted(text: str) -> str:
    out: list[str] = []
    hosts: list[str] = []
    in_hosts = False
    for line in text.split("\n"):
        if in_hosts and line.startswith("      ") and not line.startswith("      TASK TAGS"):
            hosts.append(line)
            continue
        out += sorted(hosts)
        hosts, in_hosts = [], line.startswith("    hosts (")
        out.append(line)
    return "\n".join(out + sorted(hosts))
