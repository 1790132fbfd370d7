"""Horizontal bar chart of a stage's blocks by size (leaf blocks only: nothing counted twice)."""

from __future__ import annotations

import holoviews as hv
from bokeh.models import NoOverlap

from ..i18n import t
from ..model.result import Estimate
from ..model.units import to_unit
from .geometry import pick_stage, text_width_px, wrap_label
from .parts import block_parts, tooltip
from .style import BASE_OPTS, hover, plain_numbers

# Bokeh's tick labels are 11 px; a name wider than this takes two lines.
AXIS_FONT_PX, LONG_LABEL_PX = 11, 110
# Room per bar for a two-line name, and for the memory axis and its label below the bars.
ROW_PX, AXIS_PX, MIN_HEIGHT_PX = 28, 70, 320


def bar_chart_height(estimate: Estimate) -> int:
    """Pixels the bar chart needs for its stage with the most blocks, so two-line names never touch."""
    rows = max(len(block_parts(stage, "en")) for stage in estimate.stages)
    return max(MIN_HEIGHT_PX, AXIS_PX + ROW_PX * rows)


def bar_chart(estimate: Estimate, lang: str = "en", unit: str = "MiB", *, stage: int | None = None,
              height: int = 300) -> hv.Bars:
    """One bar per block with memory, biggest on top, coloured by block (family = category).

    The axes are inverted: `ylabel` names the memory axis, drawn horizontally.
    """
    chosen = pick_stage(estimate, stage)
    parts = sorted(block_parts(chosen, lang), key=lambda p: p.mib)  # Bokeh draws the first factor at the bottom
    rows = [(_axis_label(p.label), to_unit(p.mib, unit), tooltip(p, chosen, unit, lang), p.color) for p in parts]
    block_dim = hv.Dimension("block", label=t("axis.block", lang))
    value_dim = hv.Dimension("value", label=t("axis.memory", lang, unit=unit))
    return hv.Bars(rows, kdims=[block_dim], vdims=[value_dim, "tip", "color"]).opts(
        **BASE_OPTS, invert_axes=True, color="color", line_color=None, tools=[hover()], height=height,
        bar_width=0.7, xlabel="", ylabel=t("axis.memory", lang, unit=unit), framewise=True,
        gridstyle={"x_grid_line_color": "#eceff3"}, show_grid=True, labelled=["x", "y"], hooks=[_few_value_ticks],
    )


def _axis_label(label: str) -> str:
    """A long block name on two lines, so the names leave the bars room on a phone."""
    return wrap_label(label, split_wide=True) if text_width_px(label, AXIS_FONT_PX) > LONG_LABEL_PX else label


def _few_value_ticks(plot, element) -> None:
    """About four memory ticks, no minor ones; on a narrow screen, labels that would touch are left out."""
    axis = plot.state.xaxis[0]
    axis.ticker.desired_num_ticks = 4
    axis.minor_tick_line_color = None
    if not isinstance(axis.major_label_policy, NoOverlap):  # once: hooks run on every redraw
        axis.major_label_policy = NoOverlap(min_distance=8)
    plain_numbers(axis)
