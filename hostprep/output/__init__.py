"""Output for people (Ansible-like lines and PLAY RECAP) and programs (--json)."""
