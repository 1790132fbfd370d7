"""Colours and the hover template shared by every chart."""

from __future__ import annotations

import zlib

from bokeh.models import HoverTool, NumeralTickFormatter

from ..model.result import ACTIVATION, MODEL_STATES, OVERHEAD

# Activation in greens, model states in blues/purples, overhead in warm greys: the two families
# read apart at a glance, as in Galvatron's treemap.
CATEGORY_COLORS = {ACTIVATION: "#43a047", MODEL_STATES: "#1e6fd9", OVERHEAD: "#8d6e63"}
BLOCK_COLORS = {
    "activation.layers": "#66bb6a",
    "activation.inflight": "#a5d6a7",
    "activation.experts": "#9e9d24",
    "activation.other": "#2e7d32",
    "activation.embedding": "#26a69a",
    "activation.logits": "#00897b",
    "model_states.parameter": "#8e63ce",
    "model_states.gradient": "#e85d8c",
    "model_states.optimizer": "#2f80ed",
    "model_states.grad_accumulate": "#56ccf2",
    "overhead.cuda_context": "#a1887f",
    "overhead.fragmentation": "#bcaaa4",
    "overhead.comm_buffers": "#ffb74d",
}
# Shades for keys a cost model adds that are not listed above, per category.
FALLBACK_SHADES = {
    ACTIVATION: ("#81c784", "#4db6ac", "#aed581", "#388e3c"),
    MODEL_STATES: ("#5c6bc0", "#7986cb", "#4fc3f7", "#9575cd"),
    OVERHEAD: ("#bcaaa4", "#ffcc80", "#a1887f", "#d7ccc8"),
}
OTHER_COLOR = "#9e9e9e"
CAPACITY_COLOR = "#d32f2f"
TEXT_COLOR = "#1f2937"


def category_color(category: str) -> str:
    return CATEGORY_COLORS.get(category, OTHER_COLOR)


def block_color(key: str, category: str) -> str:
    if key in BLOCK_COLORS:
        return BLOCK_COLORS[key]
    shades = FALLBACK_SHADES.get(category, (OTHER_COLOR,))
    return shades[zlib.crc32(key.encode()) % len(shades)]  # stable across runs, unlike hash()


def hover() -> HoverTool:
    """Hover showing the row's ready-made, translated HTML (so tooltips follow the language)."""
    return HoverTool(tooltips='<div class="memviz-tip">@tip{safe}</div>', point_policy="follow_mouse")


def tooltip_html(name: str, lines: list[tuple[str, str]]) -> str:
    body = "".join(f"<div>{label}: <b>{value}</b></div>" for label, value in lines)
    return f'<div style="font-size:12px;max-width:280px"><div style="font-weight:600">{name}</div>{body}</div>'


# Options every chart shares: no toolbar, no grey frame, fills the card's width.
BASE_OPTS = {"toolbar": None, "default_tools": [], "responsive": True, "show_frame": False}


def plain_numbers(axis) -> None:
    """Memory ticks as plain numbers ("120,000", "23.5"), never scientific notation."""
    # Hooks run on every redraw: a new formatter model each time would force Bokeh to re-walk
    # the whole document's model graph.
    if not isinstance(axis.formatter, NumeralTickFormatter):
        axis.formatter = NumeralTickFormatter(format="0,0.[0]")
