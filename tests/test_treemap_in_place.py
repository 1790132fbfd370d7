"""The treemap redraws its data sources in place (ui/treemap.py) exactly as HoloViews draws them."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest
from bokeh.core.property.vectorization import field
from bokeh.models import GlyphRenderer

from viz_app import plots
from viz_app.session import Session
from viz_app.ui.treemap import InPlaceTreemap
from viz_app.view import View


def _columns(data) -> dict:
    return {name: np.asarray(values).tolist() for name, values in data.items()}


def _holoviews_drawing(session: Session, view: View) -> list[dict]:
    """The sources of a fresh HoloViews rendering of the treemap, rectangles then labels."""
    figure = hv.render(plots.treemap(session.estimate, view.lang, view.unit, stage=session.config.stage,
                                     details=view.details))
    return [_columns(renderer.data_source.data) for renderer in figure.renderers]


@pytest.fixture
def drawn() -> tuple[Session, View, InPlaceTreemap]:
    hv.extension("bokeh", logo=False)
    session, view = Session(), View()
    treemap = InPlaceTreemap(session, view)
    treemap.root = treemap.pane.get_root()
    return session, view, treemap


@pytest.mark.parametrize("details", [True, False])
def test_a_new_estimate_redraws_the_sources_as_holoviews_would(drawn, details):
    session, view, treemap = drawn
    view.details = details
    before = [_columns(source.data) for source in treemap.sources]
    session.config.tp = 4
    assert [_columns(source.data) for source in treemap.sources] != before
    assert [_columns(source.data) for source in treemap.sources] == _holoviews_drawing(session, view)
    view.lang = "zh"
    session.config.pp, session.config.stage = 2, 1
    assert [_columns(source.data) for source in treemap.sources] == _holoviews_drawing(session, view)


def test_a_style_holoviews_drew_as_one_value_is_redrawn_by_holoviews(drawn):
    session, view, treemap = drawn

    def label_glyph():
        renderers = treemap.root.select({"type": GlyphRenderer})
        return next(r.glyph for r in renderers if r.data_source is treemap.sources[1])

    # What HoloViews draws when every label shares a weight: a value on the glyph, no column.
    labels = treemap.sources[1]
    labels.data = {name: values for name, values in labels.data.items() if name != "text_font_style"}
    label_glyph().text_font_style = "bold"
    session.config.tp = 4
    assert label_glyph().text_font_style == field("text_font_style")
    assert [_columns(source.data) for source in treemap.sources] == _holoviews_drawing(session, view)
