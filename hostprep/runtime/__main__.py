"""`python -m hostprep.runtime` and the zipapp entry point."""

import sys

from hostprep.runtime.cli import main

sys.exit(main())
