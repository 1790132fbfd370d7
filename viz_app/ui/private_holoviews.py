"""Every use of HoloViews' private API in memviz, checked where it is used.

Written against HoloViews 1.23.2. A plot hook receives HoloViews' plot object, whose `handles`
dictionary holds the Bokeh models it drew; which keys it holds is not documented. The treemap
(ui/treemap.py) writes its data sources in place through `drawn_source`, which fails loudly on
the first draw when the key is gone (tests/test_private_apis.py draws one). What HoloViews would
need to offer publicly instead: docs/upstream.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .private_api import missing

if TYPE_CHECKING:
    from bokeh.models import ColumnDataSource

TESTED = "1.23.2"
IN_PLACE = "write the treemap's data sources in place instead of redrawing it through HoloViews"


def drawn_source(plot: Any) -> ColumnDataSource:
    """The Bokeh data source HoloViews drew an element's glyph from; `plot` as a plot hook gets it."""
    handles = getattr(plot, "handles", None)
    if not isinstance(handles, dict) or "source" not in handles:
        where = "handles" if handles is None else 'handles["source"]'
        raise missing("holoviews", TESTED, f"{type(plot).__module__}.{type(plot).__qualname__}.{where}", IN_PLACE)
    return handles["source"]
