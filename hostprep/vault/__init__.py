"""Ansible Vault: files and `!vault` values encrypted with a password, read and written like ansible-vault.

`envelope` is the text format, `cipher` the AES256 scheme, `secrets` where passwords come from and
`keyring` the run's passwords plus the values they revealed (which outputs censor).
"""
