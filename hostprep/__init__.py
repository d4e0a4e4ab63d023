"""hostprep: Ansible-style provisioning over SSH, with a bundled container runtime."""

__version__ = "0.1.0"
