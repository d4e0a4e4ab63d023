"""Ansible-compatible inventories: INI and YAML sources, group_vars/host_vars, host patterns."""

from hostprep.inventory.inventory import Inventory, load_inventory
from hostprep.inventory.model import Group, Host

__all__ = ["Group", "Host", "Inventory", "load_inventory"]
