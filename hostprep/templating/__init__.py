"""hostprep.templating"""
