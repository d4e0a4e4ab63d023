"""Configuration read from where Ansible users keep it (ansible.cfg and ANSIBLE_* variables)."""
