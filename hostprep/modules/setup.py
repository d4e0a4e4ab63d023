"""setup (alias gather_facts): gather the host's facts now, with one shell script (no Python on the host)."""

from __future__ import annotations

import fnmatch
from typing import Any

from hostprep.errors import ModuleArgError
from hostprep.modules.base import Arg, Module, ProbeResult, TaskContext

# Ansible's subset names (and their negations). hostprep gathers one fact set, a superset of `min` with
# the facts roles ask for by subset (pkg_mgr, python, distribution, service_mgr, ...): asking for fewer
# gathers the same set, which only defines more variables than Ansible would.
SUBSETS = frozenset("""all min hardware network virtual ohai facter apparmor caps cmdline date_time
distribution dns env fips local lsb pkg_mgr platform python selinux service_mgr ssh_pub_keys user devices
mounts interfaces default_ipv4 default_ipv6 system loadavg""".split())  # noqa: SIM905 - a word list


class SetupModule(Module):
    name = "setup"
    aliases = ("gather_facts",)
    doc = ("Gather facts (distribution, kernel, CPU, memory, network, mounts, python, ...) in one round trip. "
           "`filter` keeps the facts matching its globs; gather_subset takes Ansible's subset names, but "
           "hostprep always gathers its one fact set.")
    examples = "- setup:\n    filter: ['ansible_distribution*']\n"
    args = {
        "filter": Arg("list", elements="str", default=[]),
        "gather_subset": Arg("list", elements="str", default=["all"]),
        "gather_timeout": Arg("int", default=10),
        "fact_path": Arg("path", default="/etc/ansible/facts.d",
                         doc="Only the default: local facts (facts.d) are not read."),
    }

    def validate(self, raw: Any) -> dict[str, Any]:
        args = super().validate(raw)
        for subset in args["gather_subset"]:
            if subset.lstrip("!") not in SUBSETS:
                raise ModuleArgError(f"setup: {subset!r} is not one of Ansible's gather_subset names",
                                     key="gather_subset")
        if args["fact_path"] != "/etc/ansible/facts.d":
            raise ModuleArgError("setup: fact_path is not supported by hostprep (local facts are not read)",
                                 key="fact_path")
        return args

    def run(self, args: dict[str, Any], ctx: TaskContext, probe: ProbeResult | None = None) -> dict[str, Any]:
        from hostprep.facts import facts_script, parse_facts

        res = ctx.probe(facts_script())
        if "@@end" not in res.stdout:
            return {"failed": True, "changed": False,
                    "msg": f"gathering facts failed (rc={res.rc}): {res.stderr.strip()[:500]}"}
        facts = parse_facts(res.stdout)
        if args["filter"]:
            facts = {k: v for k, v in facts.items()
                     if any(fnmatch.fnmatch(k, p) or fnmatch.fnmatch(f"ansible_{k}", p) for p in args["filter"])}
        return {"changed": False, "ansible_facts": facts, "_hostprep_gathered": True}
