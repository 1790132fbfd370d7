"""Small layout helpers: text width estimates, label contrast, the stage a chart shows."""

from __future__ import annotations

import itertools
import re
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


def _is_wide(text: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in "WF" for ch in text)


def wrap_label(label: str, lines: int = 2, split_wide: bool = False) -> str:
    """The label on up to `lines` lines of balanced width, split at spaces; a CJK label stays whole
    unless `split_wide` (then it splits between characters)."""
    wide = _is_wide(label)
    if wide and not split_wide:
        return label
    # Wide text breaks between characters, but a Latin word in it ("CUDA") stays whole.
    words = re.findall(r"[^\W_]+|\s+|.", label, re.ASCII) if wide else label.split(" ")
    joiner = "" if wide else " "
    best = [label]
    best_width = len(label)
    # Cut points between words, chosen to make the longest line as short as possible (labels are short).
    for cuts in _cut_choices(len(words), lines - 1):
        bounds = [0, *cuts, len(words)]
        rows = [joiner.join(words[a:b]).strip() for a, b in zip(bounds, bounds[1:], strict=False)]
        width = max(len(r) for r in rows)
        if width < best_width:
            best, best_width = rows, width
    return "\n".join(best)


def _cut_choices(count: int, cuts: int) -> list[tuple[int, ...]]:
    """Every way of placing 1..`cuts` increasing cut points strictly inside `count` items."""
    return [c for k in range(1, cuts + 1) for c in itertools.combinations(range(1, count), k)]
