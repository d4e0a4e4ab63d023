"""hostprep.playbook"""
