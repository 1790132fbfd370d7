"""Text drawn on coloured shapes, in dark or light ink by the fill under it."""

from __future__ import annotations

import holoviews as hv

from .geometry import DARK_INK, LIGHT_INK, ink_for


def ink_labels(rows: list[tuple[float, float, str, str]], font_px: int, bold: bool = False) -> hv.Overlay:
    """(x, y, text, fill colour) rows as two label layers with fixed ink colours.

    Fixed colours, not a colour column: HoloViews maps a column that starts out empty as numbers
    and then fails on hex strings. Both layers always exist, so a DynamicMap keeps its overlay shape.
    """
    layers = []
    for ink in (DARK_INK, LIGHT_INK):
        points = [(x, y, text) for x, y, text, fill in rows if ink_for(fill) == ink]
        layers.append(hv.Labels(points, kdims=["x", "y"], vdims=["text"]).opts(
            text_color=ink, text_font_size=f"{font_px}px", text_font_style="bold" if bold else "normal",
        ))
    return layers[0] * layers[1]
