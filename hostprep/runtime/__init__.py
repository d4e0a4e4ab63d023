"""hostprep-runtime: a small container runtime (standard library only, Python 3.6+)."""
