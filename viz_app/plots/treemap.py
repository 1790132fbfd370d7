"""Squarified treemap of one stage: activation vs model states (and overhead), or every block."""

from __future__ import annotations

import math
from dataclasses import dataclass

import holoviews as hv
import squarify

from ..model.result import Estimate
from ..model.units import format_memory, format_share
from .geometry import pick_stage, text_width_px, wrap_label
from .labels import ink_label_columns, labels_element, labels_source
from .parts import Part, category_parts, detailed_parts, tooltip
from .style import BASE_OPTS, hover

# Default drawing area in pixels (the plot at 1280 px); the app passes the real plot size, so the
# squares stay square and labels are fitted to what is on screen (a phone is 350 px wide).
WIDTH, HEIGHT = 880.0, 440.0
# Inset of blocks inside their category's box (details mode): the white plot background between
# categories draws their frames, with no extra layer to update on every redraw.
CATEGORY_GAP = 3.0
BIG_FONT_PX, SMALL_FONT_PX, TINY_FONT_PX = 13, 10, 8
SHORT_WIDE_LABEL = 6  # characters


def _squarify(parts: list[Part], x: float, y: float, dx: float, dy: float) -> list[dict]:
    """Rectangles for `parts` (sorted biggest first, as squarify expects) inside a box."""
    parts = sorted(parts, key=lambda p: -p.mib)
    sizes = squarify.normalize_sizes([p.mib for p in parts], dx, dy)
    return [dict(rect, part=p) for rect, p in zip(squarify.squarify(sizes, x, y, dx, dy), parts, strict=True)]


def _grid_columns(count: int, dx: float, dy: float) -> int:
    """Columns of a reading-order grid of `count` equal cells in a dx x dy box, the cells nearest square.

    Each row is as tall as its share of the cells, so a short last row's cells keep their area.
    """
    def worst_aspect(cols: int) -> float:
        last = count - cols * (math.ceil(count / cols) - 1)
        cells = [(dx / n, dy * n / count) for n in (cols, last)]
        return max(max(w / h, h / w) for w, h in cells)
    return min(range(1, count + 1), key=worst_aspect)


def _grid(units: list[Part], x: float, y: float, dx: float, dy: float) -> list[dict]:
    """Equal units (a block's layers) left to right, then top to bottom: layer i+1 follows layer i."""
    count = len(units)
    cols = _grid_columns(count, dx, dy)
    rects, top = [], y
    for first in range(0, count, cols):
        row = units[first:first + cols]
        height = dy * len(row) / count
        rects += [dict(x=x + i * dx / len(row), y=top, dx=dx / len(row), dy=height, part=p) for i, p in enumerate(row)]
        top += height
    return rects


def _blocks(parts_of_blocks: list[list[Part]], x: float, y: float, dx: float, dy: float) -> list[dict]:
    """Each block's rectangle (squarified), split into its units in reading order."""
    whole = [Part(units[0].key, units[0].category, units[0].label, sum(u.mib for u in units), units[0].color)
             for units in parts_of_blocks]
    units_of = {id(part): units for part, units in zip(whole, parts_of_blocks, strict=True)}
    leaves = []
    for rect in _squarify(whole, x, y, dx, dy):
        units = units_of[id(rect["part"])]
        leaves += [dict(rect, part=units[0])] if len(units) == 1 else _grid(units, rect["x"], rect["y"],
                                                                            rect["dx"], rect["dy"])
    return leaves


def _layout(estimate: Estimate, stage: int | None, lang: str, details: bool, width: float,
            height: float) -> list[dict]:
    """Leaf rectangles in pixels, y growing downwards from the top."""
    chosen = pick_stage(estimate, stage)
    categories = category_parts(chosen, lang)
    if not categories:
        return []
    frames = _squarify(categories, 0, 0, width, height)
    if not details:
        return frames
    leaves = []
    for frame in frames:
        g = CATEGORY_GAP
        leaves += _blocks(detailed_parts(chosen, lang, frame["part"].key),
                          frame["x"] + g, frame["y"] + g, frame["dx"] - 2 * g, frame["dy"] - 2 * g)
    return leaves


def _box(rect: dict, width: float, height: float) -> tuple[float, float, float, float]:
    """A pixel rectangle in the plot's fixed data space (WIDTH x HEIGHT), y flipped to read top down.

    The data space never changes, so the axes never need re-ranging when the plot is resized.
    """
    sx, sy = WIDTH / width, HEIGHT / height
    return (rect["x"] * sx, (height - rect["y"] - rect["dy"]) * sy, (rect["x"] + rect["dx"]) * sx,
            (height - rect["y"]) * sy)


def _label_candidates(part: Part, total_mib: float, unit: str) -> tuple[tuple[str, int], ...]:
    """What a rectangle may say, from the most to the least (text, font size); a layer's number last.

    Never a name cut short ("Output" for "Output head gradients"): a block too small for its whole
    name says its catalog abbreviation ("Head grads"), and one too small for that stays blank (the
    tooltip names it).
    """
    figures = f"{format_memory(part.mib, unit)} · {format_share(part.mib, total_mib)}"
    # A short CJK name ("第 3 层", "各层梯度") reads better whole, at a smaller size if need be.
    name = wrap_label(part.label, split_wide=len(part.label) > SHORT_WIDE_LABEL)
    name3 = wrap_label(part.label, 3, split_wide=True)
    candidates = (
        (f"{part.label}\n{figures}", BIG_FONT_PX), (f"{name}\n{figures}", BIG_FONT_PX), (name, BIG_FONT_PX),
        (f"{name}\n{figures}", SMALL_FONT_PX), (name, SMALL_FONT_PX), (name3, SMALL_FONT_PX), (name3, TINY_FONT_PX),
    )
    if part.short_label:
        return (*candidates, (part.short_label, SMALL_FONT_PX))
    short = part.abbreviation
    return (*candidates, *((text, font) for font in (SMALL_FONT_PX, TINY_FONT_PX)
                           for text in (short, wrap_label(short)))) if short else candidates


def _fits(rect: dict, text: str, font: int) -> bool:
    lines = text.count("\n") + 1
    return bool(text) and rect["dx"] > text_width_px(text, font) + 8 and rect["dy"] > lines * font * 1.35 + 4


def _label(rect: dict, total_mib: float, unit: str, least: int = 0) -> tuple[int, str, int] | None:
    """(candidate index, text, font size) of the first candidate from `least` on that fits, or None."""
    for index, (text, font) in enumerate(_label_candidates(rect["part"], total_mib, unit)):
        if index >= least and _fits(rect, text, font):
            return index, text, font
    return None


def _fit_labels(leaves: list[dict], total_mib: float, unit: str) -> list[tuple[str, int] | None]:
    """Each leaf's (text, font size); the units of one block (its layers) say it in one form."""
    fitted = [_label(r, total_mib, unit) for r in leaves]
    # A block's layers in several forms ("Layer 3" in big bold next to "4") read as different
    # things: each takes the most compact form any of its siblings needed.
    # (A cell where nothing fits stays blank either way.)
    compact = {}
    for r, f in zip(leaves, fitted, strict=True):
        if r["part"].short_label and f:
            compact[r["part"].category] = max(compact.get(r["part"].category, 0), f[0])
    fitted = [_label(r, total_mib, unit, compact[r["part"].category]) if r["part"].short_label and f else f
              for r, f in zip(leaves, fitted, strict=True)]
    return [f[1:] if f else None for f in fitted]


RECT_COLUMNS = ("x0", "y0", "x1", "y1", "tip", "color")


@dataclass(frozen=True)
class TreemapColumns:
    """What the treemap draws, as columns: its rectangles (RECT_COLUMNS) and labels (LABEL_COLUMNS)."""

    rects: dict[str, list]
    labels: dict[str, list]


def treemap_columns(estimate: Estimate, lang: str = "en", unit: str = "MiB", *, stage: int | None = None,
                    details: bool = False, width_px: float | None = None,
                    height_px: float | None = None) -> TreemapColumns:
    """The rectangles and labels of `stage` (default: the peak stage) laid out at `width_px` x `height_px`."""
    chosen = pick_stage(estimate, stage)
    width, area_height = width_px or WIDTH, height_px or HEIGHT
    leaves = _layout(estimate, stage, lang, details, width, area_height)
    total = chosen.total_mib
    rects = [(*_box(r, width, area_height), tooltip(r["part"], chosen, unit, lang), r["part"].color)
             for r in leaves]
    labels, sizes = [], []
    for r, fitted in zip(leaves, _fit_labels(leaves, total, unit), strict=True):
        if fitted:
            x0, y0, x1, y1 = _box(r, width, area_height)
            labels.append(((x0 + x1) / 2, (y0 + y1) / 2, fitted[0], r["part"].color))
            sizes.append(fitted[1])
    return TreemapColumns(
        rects={name: [rect[i] for rect in rects] for i, name in enumerate(RECT_COLUMNS)},
        labels=ink_label_columns(labels, sizes, bold=[size == BIG_FONT_PX for size in sizes]),
    )


def treemap(estimate: Estimate, lang: str = "en", unit: str = "MiB", *, stage: int | None = None,
            details: bool = False, height: int = 440, width_px: float | None = None,
            height_px: float | None = None) -> hv.Overlay:
    """The treemap of `stage` (default: the peak stage). Hover shows name, memory and share.

    `width_px` / `height_px`: the plot's size on screen, when known (default 880 x 440).
    """
    columns = treemap_columns(estimate, lang, unit, stage=stage, details=details, width_px=width_px,
                              height_px=height_px)
    fill = hv.Rectangles(columns.rects, kdims=list(RECT_COLUMNS[:4]), vdims=list(RECT_COLUMNS[4:])).opts(
        color="color", line_color="white", line_width=1, tools=[hover()], hover_fill_alpha=0.85,
    )
    return (fill * labels_element(columns.labels)).opts(
        hv.opts.Overlay(**BASE_OPTS, height=height, xaxis=None, yaxis=None, xlim=(0, WIDTH), ylim=(0, HEIGHT),
                        padding=0, border=0, min_height=260),
    )


def treemap_sources(columns: TreemapColumns) -> tuple[dict[str, list], dict[str, list]]:
    """The columns of the Bokeh data sources HoloViews draws `treemap()`'s two layers with.

    For redrawing them in place (ui/treemap.py): HoloViews' own update of this overlay is most of
    the Python time of a redraw, and the browser waits for it (the static site's worker).
    """
    r = columns.rects
    return ({**r, "left": r["x0"], "right": r["x1"], "bottom": r["y0"], "top": r["y1"]},
            labels_source(columns.labels))
