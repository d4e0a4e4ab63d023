"""Facts in one round trip: a POSIX sh script and a parser into Ansible's `ansible_facts` keys."""

from __future__ import annotations

from hostprep.facts.gather import facts_script, gather_facts, parse_facts

__all__ = ["facts_script", "gather_facts", "parse_facts"]
