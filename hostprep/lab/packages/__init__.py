"""The lab's package universe: RPMs built from Debian packages' files, signed, in EL/Docker layouts."""
