"""Proportion view: a 100% bar of the main categories and one of the model-states breakdown."""

from __future__ import annotations

import holoviews as hv

from ..i18n import t
from ..model.result import MODEL_STATES, Estimate
from ..model.units import format_memory
from .geometry import pick_stage, text_width_px
from .labels import ink_labels
from .parts import Part, breakdown_parts, category_parts, tooltip
from .style import BASE_OPTS, TEXT_COLOR, hover

FONT_PX = 12
PLOT_WIDTH_PX = 820  # for deciding whether a segment's label fits, unless the real width is known
ROWS = (("proportion.main", 2.0), ("proportion.states", 0.0))  # catalog key, bottom y of the bar
BAR_HEIGHT, TITLE_GAP = 1.0, 0.22


def _segments(parts: list[Part], y0: float, total: float) -> list[tuple]:
    out, x = [], 0.0
    for p in parts:
        width = 100 * p.mib / total if total > 0 else 0
        out.append((x, y0, x + width, y0 + BAR_HEIGHT, p))
        x += width
    return out


def proportion_chart(estimate: Estimate, lang: str = "en", unit: str = "MiB", *, stage: int | None = None,
                     height: int = 230, width_px: float | None = None) -> hv.Overlay:
    """Two stacked 100% bars; segments show name, memory and share when they fit, all on hover.

    `width_px`: the plot's width on screen, when known (a phone's is under half the default).
    """
    plot_width_px = width_px or PLOT_WIDTH_PX
    chosen = pick_stage(estimate, stage)
    rows = (category_parts(chosen, lang), breakdown_parts(chosen, lang, MODEL_STATES))
    rects, labels, titles = [], [], []
    for (title_key, y0), parts in zip(ROWS, rows, strict=True):
        whole = sum(p.mib for p in parts)
        titles.append((0, y0 + BAR_HEIGHT + TITLE_GAP, t(title_key, lang)))
        for x0, b0, x1, b1, p in _segments(parts, y0, whole):
            rects.append((x0, b0, x1, b1, tooltip(p, chosen, unit, lang), p.color))
            text = f"{p.label}\n{format_memory(p.mib, unit)} ({100 * p.mib / whole:.1f}%)"
            room_px = (x1 - x0) / 100 * plot_width_px
            if room_px < text_width_px(text, FONT_PX) + 8:
                share = f"{100 * p.mib / whole:.0f}%"
                text = share if room_px >= text_width_px(share, FONT_PX) + 6 else ""
            if text:
                labels.append(((x0 + x1) / 2, (b0 + b1) / 2, text, p.color))
    share_dim = hv.Dimension("x0", label=t("axis.share", lang))
    fill = hv.Rectangles(rects, kdims=[share_dim, "y0", "x1", "y1"], vdims=["tip", "color"]).opts(
        color="color", line_color="white", line_width=2, tools=[hover()],
    )
    inside = ink_labels(labels, FONT_PX)
    heads = hv.Labels(titles, kdims=["x", "y"], vdims=["text"]).opts(
        text_color=TEXT_COLOR, text_font_size="13px", text_font_style="bold", text_align="left",
        text_baseline="bottom",
    )
    return (fill * inside * heads).opts(
        hv.opts.Overlay(**BASE_OPTS, height=height, xlim=(0, 100), ylim=(-0.1, 3.7), yaxis=None,
                        xlabel=t("axis.share", lang), padding=0),
    )
