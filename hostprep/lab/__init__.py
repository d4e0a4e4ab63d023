"""hostprep.lab"""
