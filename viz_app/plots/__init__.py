"""HoloViews views of an `Estimate`: pure functions (estimate, language, unit, ...) -> HoloViews object.

No Panel here: the app binds these functions to its parameters; the static build and tests
call them the same way.
"""

from ..model.units import UNITS, format_memory, to_unit
from .bars import bar_chart, bar_chart_height
from .donut import donut, donut_sector_at
from .explorer import explorer_chart
from .geometry import pick_stage
from .parts import legend_groups, legend_items
from .proportion import proportion_chart
from .stages import stage_chart
from .step import step_chart
from .treemap import treemap, treemap_columns, treemap_sources


def draw_without_webgl() -> None:
    """Make HoloViews draw every Bokeh plot of this process on a plain canvas (the app's set-up calls it)."""
    from holoviews.plotting.bokeh import BokehRenderer

    # HoloViews asks Bokeh for WebGL by default. These charts have a few dozen glyphs, and without a
    # GPU (headless browsers, many laptops' software GL) each repaint then copies a WebGL canvas into
    # the 2D one: ~45 ms of a ~100 ms browser-side redraw, measured in Chromium here.
    BokehRenderer.webgl = False


__all__ = [
    "UNITS", "bar_chart", "bar_chart_height", "donut", "donut_sector_at", "draw_without_webgl", "explorer_chart",
    "format_memory", "legend_groups", "legend_items", "pick_stage", "proportion_chart", "stage_chart", "step_chart",
    "to_unit", "treemap", "treemap_columns", "treemap_sources",
]
