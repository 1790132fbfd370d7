"""`python -m viz_app ...`: the same command line as `memviz ...`."""

import sys

from .cli import main

sys.exit(main())
