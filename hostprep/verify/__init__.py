"""`hostprep verify`: bundled testinfra suites run over SSH against an inventory's hosts."""
