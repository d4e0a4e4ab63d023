"""hostprep.output"""
