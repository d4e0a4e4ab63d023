"""Command line of hostprep-runtime (filled in by the runtime issue)."""

import sys


def main(argv=None):
    print("hostprep-runtime: not implemented yet", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
