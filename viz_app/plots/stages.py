"""Every pipeline stage side by side, stacked by category, with the GPU capacity as a line."""

from __future__ import annotations

import holoviews as hv

from ..i18n import t
from ..model.result import Estimate
from ..model.units import format_memory, to_unit
from .parts import category_parts, tooltip
from .style import BASE_OPTS, CAPACITY_COLOR, hover, plain_numbers

BAR_HALF_WIDTH = 0.36


def _integer_ticks(plot, element) -> None:
    """Stages are whole numbers: never put ticks between them; memory in plain numbers."""
    plot.state.xaxis[0].ticker.min_interval = 1
    plot.state.xaxis[0].minor_tick_line_color = None
    plain_numbers(plot.state.yaxis[0])


def stage_chart(estimate: Estimate, lang: str = "en", unit: str = "MiB", *, capacity_mib: float | None = None,
                capacity_name: str = "", height: int = 320) -> hv.Overlay:
    """Stacked bars per stage; a dashed line at `capacity_mib` when given, named `capacity_name`."""
    rects = []
    for s in estimate.stages:
        bottom = 0.0
        for p in category_parts(s, lang):
            top = bottom + to_unit(p.mib, unit)
            name = f"{t('stages.stage', lang, stage=s.stage)} · {p.label}"
            total = f"{t('stages.stage', lang, stage=s.stage)}: {format_memory(s.total_mib, unit)}"
            tip = tooltip(p.__class__(p.key, p.category, name, p.mib, p.color), s, unit, lang) + total
            rects.append((s.stage - BAR_HALF_WIDTH, bottom, s.stage + BAR_HALF_WIDTH, top, tip, p.color))
            bottom = top
    last = len(estimate.stages) - 1
    peak = to_unit(estimate.peak_stage.total_mib, unit)
    level = to_unit(capacity_mib, unit) if capacity_mib else 0.0
    top = max(peak, level) * 1.12
    line, marks = [], []
    if capacity_mib:
        line = [(-0.5, level, last + 0.5, level)]
        caption = f"{t('stages.capacity', lang, gpu=capacity_name)} {format_memory(capacity_mib, unit)}"
        marks = [(last + 0.5, level + 0.012 * top, caption)]  # just above the dashed line, not on it
    # Ranges live on the dimensions (not xlim/ylim) so a DynamicMap re-ranges when pp changes.
    stage_dim = hv.Dimension("x0", label=t("axis.stage", lang), range=(-0.6, last + 0.6))
    memory_dim = hv.Dimension("y0", label=t("axis.memory", lang, unit=unit), range=(0, top))
    bars = hv.Rectangles(rects, kdims=[stage_dim, memory_dim, "x1", "y1"], vdims=["tip", "color"]).opts(
        color="color", line_color="white", line_width=1, tools=[hover()], framewise=True,
    )
    capacity = hv.Segments(line, kdims=[stage_dim, memory_dim, "x1", "y1"]).opts(
        color=CAPACITY_COLOR, line_dash="dashed", line_width=2, framewise=True,
    )
    caption = hv.Labels(marks, kdims=[stage_dim, memory_dim], vdims=["text"]).opts(
        text_color=CAPACITY_COLOR, text_font_size="11px", text_align="right", text_baseline="bottom", framewise=True,
        # Readable where it crosses a bar taller than the capacity (out of memory).
        background_fill_color="white", background_fill_alpha=0.85, border_radius=3,
    )
    return (bars * capacity * caption).opts(
        hv.opts.Overlay(**BASE_OPTS, height=height, padding=0, xlabel=t("axis.stage", lang),
                        ylabel=t("axis.memory", lang, unit=unit), show_grid=True, hooks=[_integer_ticks]),
    )
