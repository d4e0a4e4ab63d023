"""hostprep.executor"""
