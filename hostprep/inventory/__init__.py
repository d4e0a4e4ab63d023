"""hostprep.inventory"""
