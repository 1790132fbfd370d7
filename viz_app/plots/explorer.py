"""The explorer's chart: each strategy's peak memory against its bubble + recompute overhead,
coloured by whether it fits, with the GPU capacity as a line."""

from __future__ import annotations

import holoviews as hv

from ..i18n import t
from ..model.explore.table import Exploration
from ..model.units import format_memory, to_unit
from .style import BASE_OPTS, CAPACITY_COLOR, hover, plain_numbers, tooltip_html

FITS_COLOR, OOM_COLOR = "#2e7d32", "#c62828"


def strategy_name(row: dict, lang: str) -> str:
    """One line naming a strategy: "TP 4 · PP 2 · DP 8 · CP 1 · EP 1 · ETP 1 · ZeRO 1 · mbs 1 · selective ·
    1f1b"."""
    schedule = row["schedule"] + (f" v{row['virtual_stages']}" if row["virtual_stages"] > 1 else "")
    return t("explore.strategy", lang, tp=row["tp"], pp=row["pp"], dp=row["dp"], cp=row["context_parallel"],
             ep=row["ep"], etp=row["etp"], zero=row["zero_stage"], mbs=row["micro_batch_size"],
             recompute=row["recompute"], schedule=schedule)


def _tip(row: dict, lang: str, unit: str) -> str:
    lines = [(t("explore.col.peak", lang, unit=unit), format_memory(row["peak_mib"], unit)),
             (t("explore.col.headroom", lang, unit=unit), format_memory(row["headroom_mib"], unit)),
             (t("explore.col.bubble", lang), f"{row['bubble']:.3f}"),
             (t("explore.col.recompute_overhead", lang), f"{row['recompute_overhead']:.3f}")]
    return tooltip_html(strategy_name(row, lang), lines)


def explorer_chart(exploration: Exploration, lang: str = "en", unit: str = "MiB", *, limit: int = 2000,
                   height: int = 320) -> hv.Overlay:
    """Up to `limit` strategies as points, those at `exploration.sample_positions(limit)`, in that
    order (point i is the strategy at position i of that list, for a click to load it)."""
    rows = exploration.rows(positions=exploration.sample_positions(limit))
    points = [(r["bubble"] + r["recompute_overhead"], to_unit(r["peak_mib"], unit), _tip(r, lang, unit),
               FITS_COLOR if r["fits"] else OOM_COLOR) for r in rows]
    overhead_dim = hv.Dimension("overhead", label=t("explore.axis.overhead", lang))
    memory_dim = hv.Dimension("memory", label=t("axis.memory", lang, unit=unit))
    scatter = hv.Points(points, kdims=[overhead_dim, memory_dim], vdims=["tip", "color"]).opts(
        color="color", size=7, alpha=0.7, line_color="white", tools=[hover(), "tap"], framewise=True,
        nonselection_alpha=0.35, selection_line_color="#111827",
    )
    capacity = hv.HLine(to_unit(exploration.capacity_mib, unit)).opts(
        color=CAPACITY_COLOR, line_dash="dashed", line_width=2)
    return (scatter * capacity).opts(hv.opts.Overlay(
        **BASE_OPTS, height=height, show_grid=True, xlabel=t("explore.axis.overhead", lang),
        ylabel=t("axis.memory", lang, unit=unit), hooks=[lambda plot, _element: plain_numbers(plot.state.yaxis[0])]))
