"""The `hostprep` command line (click)."""
