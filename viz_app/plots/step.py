"""Memory of one stage over one training step (analytic mode): a simulated memory_viz timeline.

One column per phase (forward of each in-flight pass, loss, backward layer by layer, optimizer
step), stacked by category; the peak phase is marked, and hovering a column shows what is alive
then, by category.
"""

from __future__ import annotations

import holoviews as hv

from ..i18n import category_label, t
from ..model.result import CATEGORIES, Estimate, Phase
from ..model.units import format_memory, to_unit
from .geometry import pick_stage
from .style import BASE_OPTS, CAPACITY_COLOR, category_color, hover, plain_numbers, tooltip_html


def phase_label(phase: Phase, lang: str) -> str:
    return t(f"phase.{phase.kind}", lang, number=phase.number, layer=phase.layer)


def _tip(phase: Phase, peak: bool, unit: str, lang: str) -> str:
    lines = [(t("step.total", lang), format_memory(phase.total_mib, unit))]
    lines += [(category_label(c, lang), format_memory(phase.category_mib(c), unit))
              for c in CATEGORIES if phase.category_mib(c) > 0]
    name = phase_label(phase, lang) + (f" · {t('step.peak_short', lang)}" if peak else "")
    return tooltip_html(name, lines)


def _ticks(plot, element) -> None:
    plain_numbers(plot.state.yaxis[0])
    plot.state.xaxis[0].major_label_text_font_size = "0px"  # phases are named on hover, not on the axis
    plot.state.xaxis[0].major_tick_line_color = None


def step_chart(estimate: Estimate, lang: str = "en", unit: str = "MiB", *, stage: int | None = None,
               height: int = 300) -> hv.Overlay:
    """The stage's memory through one step, stacked by category, the peak phase marked."""
    chosen = pick_stage(estimate, stage)
    phases = chosen.timeline
    phase_dim = hv.Dimension("x0", label=t("axis.phase", lang), range=(-0.5, max(len(phases), 1) - 0.5))
    if not phases:
        top = 1.0
        memory_dim = hv.Dimension("y0", label=t("axis.memory", lang, unit=unit), range=(0, top))
        empty = hv.Labels([((max(len(phases), 1) - 1) / 2, top / 2, t("step.none", lang))],
                          kdims=[phase_dim, memory_dim], vdims=["text"]).opts(text_font_size="13px")
        # the same glyphs as a timeline (empty), so the page's charts keep their shape across modes
        nothing = [hv.Rectangles([], kdims=[phase_dim, memory_dim, "x1", "y1"]),
                   hv.Segments([], kdims=[phase_dim, memory_dim, "x1", "y1"])]
        return (nothing[0] * nothing[1] * empty).opts(
            hv.opts.Overlay(**BASE_OPTS, height=height, xlabel=t("axis.phase", lang),
                            ylabel=t("axis.memory", lang, unit=unit)))
    peak_index = max(range(len(phases)), key=lambda i: phases[i].total_mib)
    rects = []
    for index, phase in enumerate(phases):
        tip = _tip(phase, index == peak_index, unit, lang)
        bottom = 0.0
        for category in CATEGORIES:
            size = to_unit(phase.category_mib(category), unit)
            if size > 0:
                rects.append((index - 0.5, bottom, index + 0.5, bottom + size, tip, category_color(category)))
                bottom += size
    peak = to_unit(phases[peak_index].total_mib, unit)
    top = peak * 1.15
    memory_dim = hv.Dimension("y0", label=t("axis.memory", lang, unit=unit), range=(0, top))
    columns = hv.Rectangles(rects, kdims=[phase_dim, memory_dim, "x1", "y1"], vdims=["tip", "color"]).opts(
        color="color", line_color=None, tools=[hover()], framewise=True)
    marker = hv.Segments([(peak_index, 0, peak_index, peak * 1.04)], kdims=[phase_dim, memory_dim, "x1", "y1"]).opts(
        color=CAPACITY_COLOR, line_dash="dashed", line_width=2, framewise=True)
    caption = t("step.peak", lang, phase=phase_label(phases[peak_index], lang),
                memory=format_memory(phases[peak_index].total_mib, unit))
    # The caption runs away from the nearer edge, or both ways from a peak in the middle third, so a
    # phone's narrow plot does not cut it.
    third = len(phases) / 3
    align = "left" if peak_index < third else "right" if peak_index > 2 * third else "center"
    label = hv.Labels([(peak_index, peak * 1.05, caption)], kdims=[phase_dim, memory_dim], vdims=["text"]).opts(
        text_color=CAPACITY_COLOR, text_font_size="11px", text_align=align, text_baseline="bottom",
        background_fill_color="white", background_fill_alpha=0.85, framewise=True)
    return (columns * marker * label).opts(
        hv.opts.Overlay(**BASE_OPTS, height=height, padding=0, xlabel=t("axis.phase", lang),
                        ylabel=t("axis.memory", lang, unit=unit), show_grid=True, hooks=[_ticks]))
