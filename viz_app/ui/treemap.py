"""The treemap pane: a new estimate redraws its data sources in place.

HoloViews' update of the treemap overlay (a new element, ranges, style mapping, two glyph
updates) was ~60% of the Python time of a redraw, and in the static site the browser waits for
that Python. The layout is computed as before (plots.treemap_columns) and written straight to
the two data sources HoloViews drew; anything else (language, unit, details, stage, plot size)
goes through HoloViews as usual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import holoviews as hv
import panel as pn

from .. import plots
from .private_holoviews import drawn_source

if TYPE_CHECKING:
    from bokeh.models import ColumnDataSource

    from ..session import Session
    from ..view import View


class InPlaceTreemap:
    """The treemap of a session's estimate, as a HoloViews pane (`pane`)."""

    def __init__(self, session: Session, view: View):
        self.session, self.view = session, view
        self._sources: list[ColumnDataSource | None] = [None, None]  # the rectangles' and labels' sources
        c = session.config
        self._inputs = hv.streams.Params(parameters=[view.param.lang, view.param.unit, view.param.details,
                                                     c.param.stage])
        self._size = hv.streams.PlotSize()
        self.pane = pn.pane.HoloViews(hv.DynamicMap(self._draw, streams=[self._inputs, self._size]), height=440,
                                      sizing_mode="stretch_width", linked_axes=False)
        session.param.watch(self._redraw, "estimate")

    @property
    def sources(self) -> tuple[ColumnDataSource | None, ...]:
        """The Bokeh data sources of the rectangles and the labels, once drawn."""
        return tuple(self._sources)

    def _draw(self, lang, unit, details, stage, width=None, height=None, scale=1.0) -> hv.Overlay:
        """HoloViews' drawing, at the plot's real size (PlotSize), so it reads on a phone too."""
        overlay = plots.treemap(self.session.estimate, lang, unit, stage=stage, details=details, width_px=width,
                                height_px=height)
        return overlay.opts(hv.opts.Rectangles(hooks=[self._keep_source(0)]),
                            hv.opts.Labels(hooks=[self._keep_source(1)]))

    def _keep_source(self, layer: int):
        def keep(plot, _element) -> None:  # a HoloViews hook: runs on every draw of the layer
            self._sources[layer] = drawn_source(plot)
        return keep

    def _redraw(self, _event=None) -> None:
        if None in self._sources:  # not drawn yet: its first draw reads the estimate
            return
        v, c = self.view, self.session.config
        columns = plots.treemap_columns(self.session.estimate, v.lang, v.unit, stage=c.stage, details=v.details,
                                        width_px=self._size.width, height_px=self._size.height)
        new = plots.treemap_sources(columns)
        if any(set(source.data) != set(data) for source, data in zip(self._sources, new, strict=True)):
            # HoloViews drew a style as one value when every row shared it (e.g. one rectangle):
            # only its own update can turn that into a column again.
            hv.streams.Stream.trigger([self._inputs])
            return
        for source, data in zip(self._sources, new, strict=True):
            source.data = data
