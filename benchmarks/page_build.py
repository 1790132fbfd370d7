"""Time the server-side build of one page (what `memviz serve` does for every new browser tab, and
what the static site's worker does at start-up): `create_app()` then `server_doc()`.

Prints the median CPU time over N builds of memviz's page, and of the same page built by Panel's
own `server_doc` (Bokeh recomputing its model graph after each JS callback), for comparison.
"""

from __future__ import annotations

import statistics
import time

import panel as pn
from bokeh.document import Document

from viz_app.app import configure_process, create_app

RUNS = 5


def _seconds(build) -> float:
    template = create_app()
    start = time.process_time()
    build(template, Document())
    return time.process_time() - start


def main() -> None:
    configure_process()
    _seconds(lambda template, doc: template.server_doc(doc))  # imports and first-use caches
    ours = [_seconds(lambda template, doc: template.server_doc(doc)) for _ in range(RUNS)]
    stock = [_seconds(lambda template, doc: pn.template.VanillaTemplate.server_doc(template, doc))
             for _ in range(RUNS)]
    print(f"page build (server_doc): median {statistics.median(ours):.2f} s CPU over {RUNS} builds; "
          f"Panel's own server_doc on the same page: {statistics.median(stock):.2f} s")


if __name__ == "__main__":
    main()
