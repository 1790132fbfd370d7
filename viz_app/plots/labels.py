"""Text drawn on coloured shapes, in dark or light ink by the fill under it."""

from __future__ import annotations

import holoviews as hv

from .geometry import DARK_INK, ink_for

# A row that draws nothing and is always there: HoloViews decides from a column's values whether
# it holds colours, and a column that starts out empty is mapped as numbers, after which hex
# strings fail. With it, one layer carries every label (each layer costs a glyph update per redraw).
_BLANK = (0.0, 0.0, "", DARK_INK, "10px", "normal")
LABEL_COLUMNS = ("x", "y", "text", "ink", "size", "weight")
# The Bokeh text properties HoloViews maps the style columns to (opts below).
STYLE_COLUMNS = {"text_color": "ink", "text_font_size": "size", "text_font_style": "weight"}


def ink_label_columns(rows: list[tuple[float, float, str, str]], font_px: int | list[int],
                      bold: bool | list[bool] = False) -> dict[str, list]:
    """(x, y, text, fill colour) rows as columns (LABEL_COLUMNS); font size and weight per row or for all."""
    sizes = font_px if isinstance(font_px, list) else [font_px] * len(rows)
    weights = bold if isinstance(bold, list) else [bold] * len(rows)
    points = [_BLANK] + [(x, y, text, ink_for(fill), f"{size}px", "bold" if heavy else "normal")
                         for (x, y, text, fill), size, heavy in zip(rows, sizes, weights, strict=True)]
    return {name: list(values) for name, values in zip(LABEL_COLUMNS, zip(*points, strict=True), strict=True)}


def ink_labels(rows: list[tuple[float, float, str, str]], font_px: int | list[int], bold: bool | list[bool] = False
               ) -> hv.Labels:
    """(x, y, text, fill colour) rows as one label layer; font size and weight per row or for all."""
    return labels_element(ink_label_columns(rows, font_px, bold))


def labels_element(columns: dict[str, list]) -> hv.Labels:
    """The label layer of `ink_label_columns`."""
    return hv.Labels(columns, kdims=["x", "y"], vdims=list(LABEL_COLUMNS[2:])).opts(**STYLE_COLUMNS)


def labels_source(columns: dict[str, list]) -> dict[str, list]:
    """The columns of the Bokeh data source HoloViews draws `labels_element(columns)` with."""
    return {"x": columns["x"], "y": columns["y"], "text": columns["text"],
            **{prop: columns[name] for prop, name in STYLE_COLUMNS.items()}}
