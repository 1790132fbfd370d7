"""Donut of a stage: activation vs model states (and overhead), or the model-states breakdown."""

from __future__ import annotations

import math

import holoviews as hv
import numpy as np

from ..i18n import category_label, t
from ..model.result import MODEL_STATES, Estimate
from ..model.units import format_memory
from .geometry import pick_stage, wrap_label
from .parts import Part, breakdown_parts, category_parts, tooltip
from .style import BASE_OPTS, TEXT_COLOR, hover

INNER, OUTER, LABEL_RADIUS = 0.58, 1.0, 1.22
X_SPAN, WIDTH_PER_HEIGHT = 2.4, 1.6  # room for labels either side of the ring
Y_SPAN = X_SPAN / WIDTH_PER_HEIGHT
POINTS_PER_TURN = 180


def _parts(estimate: Estimate, stage: int | None, lang: str, drill: bool) -> list[Part]:
    chosen = pick_stage(estimate, stage)
    return breakdown_parts(chosen, lang, MODEL_STATES) if drill else category_parts(chosen, lang)


def _angles(parts: list[Part]) -> list[tuple[float, float]]:
    """(start, end) angles, clockwise from 12 o'clock, like a clock face."""
    total = sum(p.mib for p in parts)
    out, start = [], 0.0
    for p in parts:
        end = start + 2 * math.pi * p.mib / total
        out.append((start, end))
        start = end
    return out


def _ring(start: float, end: float) -> np.ndarray:
    steps = max(2, int(POINTS_PER_TURN * (end - start) / (2 * math.pi)))
    theta = np.linspace(start, end, steps)
    outer = np.column_stack([OUTER * np.sin(theta), OUTER * np.cos(theta)])
    inner = np.column_stack([INNER * np.sin(theta[::-1]), INNER * np.cos(theta[::-1])])
    return np.vstack([outer, inner])


def _scale(width_px: float | None, height_px: float | None) -> tuple[float, float]:
    """Ring units (radius 1) to the plot's fixed data space (x within ±X_SPAN, y within ±Y_SPAN).

    The data space never changes (Bokeh keeps the first ranges of a plot resized in the browser);
    the ring is drawn round at the plot's pixel ratio with room for labels either side: a narrow
    plot (a phone) gets a smaller ring rather than cut labels.
    """
    ratio = width_px / height_px if width_px and height_px else WIDTH_PER_HEIGHT
    y_half = max(Y_SPAN, X_SPAN / ratio)  # the half spans shown, in ring units
    return X_SPAN / (y_half * ratio), Y_SPAN / y_half


def donut(estimate: Estimate, lang: str = "en", unit: str = "MiB", *, stage: int | None = None,
          drill: bool = False, height: int = 340, width_px: float | None = None,
          height_px: float | None = None) -> hv.Overlay:
    """The donut; `drill` shows the model-states breakdown instead of the main categories.

    It fills its container's width; the size of its drawing area (`width_px` x `height_px`, as
    HoloViews' PlotSize reports it) keeps the ring round.
    """
    chosen = pick_stage(estimate, stage)
    parts = _parts(estimate, stage, lang, drill)
    whole = sum(p.mib for p in parts)
    sx, sy = _scale(width_px, height_px)
    polys, labels = [], []
    for p, (a0, a1) in zip(parts, _angles(parts), strict=True):
        ring = _ring(a0, a1)
        polys.append({"x": ring[:, 0] * sx, "y": ring[:, 1] * sy, "tip": tooltip(p, chosen, unit, lang),
                      "color": p.color})
        mid = (a0 + a1) / 2
        if a1 - a0 > 0.12:
            align = "left" if math.sin(mid) > 0.2 else "right" if math.sin(mid) < -0.2 else "center"
            labels.append((LABEL_RADIUS * math.sin(mid) * sx, LABEL_RADIUS * math.cos(mid) * sy,
                           f"{wrap_label(p.label)}\n{100 * p.mib / whole:.1f}%", align))
    center_title = category_label(MODEL_STATES, lang) if drill else t("donut.center_total", lang)
    center = [(0, 0.1 * sy, center_title, "center"), (0, -0.12 * sy, format_memory(whole, unit), "center")]
    ring = hv.Polygons(polys, vdims=["tip", "color"]).opts(
        color="color", line_color="white", line_width=2, tools=[hover()], hover_fill_alpha=0.8,
    )
    texts = hv.Labels(labels + center, kdims=["x", "y"], vdims=["text", "align"]).opts(
        text_color=TEXT_COLOR, text_font_size="12px", text_align="align", text_baseline="middle",
    )
    # A ring kept round by `_scale`, not `data_aspect`, which Bokeh mis-sizes when the plot first
    # appears in a hidden tab.
    return (ring * texts).opts(
        hv.opts.Overlay(**BASE_OPTS, height=height, xaxis=None, yaxis=None, xlim=(-X_SPAN, X_SPAN),
                        ylim=(-Y_SPAN, Y_SPAN), padding=0),
    )


def donut_sector_at(estimate: Estimate, x: float, y: float, *, lang: str = "en", stage: int | None = None,
                    drill: bool = False, width_px: float | None = None, height_px: float | None = None) -> str | None:
    """Key of the part under a click at (x, y) (data units of `donut` drawn at that size), or None
    when the click misses the ring."""
    sx, sy = _scale(width_px, height_px)
    x, y = x / sx, y / sy
    if not INNER <= math.hypot(x, y) <= OUTER:
        return None
    angle = math.atan2(x, y) % (2 * math.pi)
    parts = _parts(estimate, stage, lang, drill)
    for p, (a0, a1) in zip(parts, _angles(parts), strict=True):
        if a0 <= angle <= a1:
            return p.key
    return None
