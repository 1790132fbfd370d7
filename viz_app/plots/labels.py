"""Text drawn on coloured shapes, in dark or light ink by the fill under it."""

from __future__ import annotations

import holoviews as hv

from .geometry import DARK_INK, ink_for

# A row that draws nothing and is always there: HoloViews decides from a column's values whether
# it holds colours, and a column that starts out empty is mapped as numbers, after which hex
# strings fail. With it, one layer carries every label (each layer costs a glyph update per redraw).
_BLANK = (0.0, 0.0, "", DARK_INK, "10px", "normal")


def ink_labels(rows: list[tuple[float, float, str, str]], font_px: int | list[int], bold: bool | list[bool] = False
               ) -> hv.Labels:
    """(x, y, text, fill colour) rows as one label layer; font size and weight per row or for all."""
    sizes = font_px if isinstance(font_px, list) else [font_px] * len(rows)
    weights = bold if isinstance(bold, list) else [bold] * len(rows)
    points = [_BLANK] + [(x, y, text, ink_for(fill), f"{size}px", "bold" if heavy else "normal")
                         for (x, y, text, fill), size, heavy in zip(rows, sizes, weights, strict=True)]
    return hv.Labels(points, kdims=["x", "y"], vdims=["text", "ink", "size", "weight"]).opts(
        text_color="ink", text_font_size="size", text_font_style="weight",
    )
