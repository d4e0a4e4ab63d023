"""Jinja2 templating with Ansible's behaviour (lazy variables, filters, tests, lookups)."""

from hostprep.templating.lookups import run_lookup
from hostprep.templating.templar import OMIT, LazyVars, Templar, TemplateError, is_template

__all__ = ["OMIT", "LazyVars", "Templar", "TemplateError", "is_template", "run_lookup"]
