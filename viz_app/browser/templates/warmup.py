"""Run once by a worker restored from a memory snapshot, when the page is idle: a redraw's Python
off the page.

V8 compiles the runtime's WebAssembly functions on first use and optimizes them as they run; a
restored worker has run almost no Python, so its first changes took 110-180 ms instead of ~70 ms.
This touches no model of the page's document.
"""

from bokeh.core.serialization import Serializer
from bokeh.document import Document
from bokeh.models import ColumnDataSource

from viz_app import plots
from viz_app.browser.patches import coalesce
from viz_app.session import Session


def memviz_warm_up() -> None:
    session = Session()
    document = Document()
    sources = [ColumnDataSource(), ColumnDataSource()]
    for source in sources:
        document.add_root(source)
    events = []
    document.on_change(events.append)
    for tp in (4, 2, 1):
        session.config.tp = tp
        for details in (True, False):
            columns = plots.treemap_columns(session.estimate, details=details)
            for source, data in zip(sources, plots.treemap_sources(columns), strict=True):
                source.data = data
        Serializer().encode(coalesce(events))  # as the page link serializes a patch
        events.clear()


memviz_warm_up()
