"""Fill the build cache's downloads before a build: `python -m viz_app.site.prefetch [CACHE]`.

CI starts it beside `pip install` on a brand-new machine, so the static site's downloads (the
Pyodide core, the pinned wheels) overlap the install instead of the first test's build. It needs
only the standard library, pip and npm; a build holds the same cache lock, so a build started
meanwhile waits for it, and one that finds a download missing fetches it itself.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from . import default_cache, fetch_downloads
from .fetch import BuildError


def main(argv: list[str]) -> int:
    cache = Path(argv[0]).resolve() if argv else default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="memviz-prefetch-") as work:
            fetch_downloads(cache, Path(work))
    except BuildError as error:
        print(f"memviz prefetch: {error} (a build fetches what is missing itself)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
