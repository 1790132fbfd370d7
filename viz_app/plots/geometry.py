"""Small layout helpers: text width estimates, label contrast, the stage a chart shows."""

from __future__ import annotations

import unicodedata

from ..model.result import Estimate, StageEstimate


def pick_stage(estimate: Estimate, stage: int | None) -> StageEstimate:
    """The requested stage, or the peak one when `stage` is None or out of range."""
    if stage is None or not 0 <= stage < len(estimate.stages):
        return estimate.peak_stage
    return estimate.stages[stage]


def text_width_px(text: str, font_px: float) -> float:
    """Rough rendered width: wide (CJK) characters are about one em, others about 0.6 em."""
    longest = max(text.split("\n"), key=len, default="")
    return sum(font_px if unicodedata.east_asian_width(ch) in "WF" else 0.6 * font_px for ch in longest)


DARK_INK, LIGHT_INK = "#111827", "#ffffff"


def ink_for(fill_hex: str) -> str:
    """Black or white text, whichever reads better on `fill_hex` (WCAG relative luminance)."""
    r, g, b = (int(fill_hex[i:i + 2], 16) / 255 for i in (1, 3, 5))
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return DARK_INK if luminance > 0.36 else LIGHT_INK


def wrap_label(label: str) -> str:
    """The label on two lines, split at the space nearest its middle (CJK labels stay whole)."""
    spaces = [i for i, ch in enumerate(label) if ch == " "]
    if not spaces or any(unicodedata.east_asian_width(ch) in "WF" for ch in label):
        return label
    cut = min(spaces, key=lambda i: abs(i - len(label) / 2))
    return f"{label[:cut]}\n{label[cut + 1:]}"
