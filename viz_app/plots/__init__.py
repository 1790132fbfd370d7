"""HoloViews views of an `Estimate`: pure functions (estimate, language, unit, ...) -> HoloViews object.

No Panel here: the app binds these functions to its parameters; the static build and tests
call them the same way.
"""

from .bars import bar_chart
from .donut import donut, donut_sector_at
from .geometry import pick_stage
from .parts import legend_items
from .proportion import proportion_chart
from .stages import stage_chart
from .treemap import treemap
from .units import UNITS, format_memory, to_unit

__all__ = [
    "UNITS", "bar_chart", "donut", "donut_sector_at", "format_memory", "legend_items", "pick_stage", "proportion_chart",
    "stage_chart", "to_unit", "treemap",
]
