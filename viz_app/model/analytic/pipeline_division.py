"""A pipeline division as text ("8,8,8,8": layers per stage), for the CLI flag and the app's field.

Whether it fits the model (one entry per stage, summing to the layers) is checked when estimating
(`parameters.stage_layer_counts`), since the layers and stages may change after it is typed.
"""

from __future__ import annotations

from ..errors import StrategyError

SEPARATOR = ","


def parse_pp_division(text: str) -> list[int] | None:
    """Layers per stage from "8,8,8,8" (spaces around the numbers allowed); blank text: None, an even split."""
    if not text.strip():
        return None
    division = []
    for part in text.split(SEPARATOR):
        try:
            layers = int(part)
        except ValueError:
            raise StrategyError(key="error.pp_division_number", part=part.strip()) from None
        if layers < 1:
            raise StrategyError(key="error.pp_division_positive", value=layers)
        division.append(layers)
    return division


def format_pp_division(division: list[int] | None) -> str:
    """The text `parse_pp_division` reads back; empty for an even split."""
    return SEPARATOR.join(map(str, division)) if division else ""
