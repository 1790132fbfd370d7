"""The comparison card: pin up to four configurations and see them side by side.

Totals, the most loaded stage's categories and model-state parts, and every stage's total, for
each pin; cells that differ from the first pin (the baseline) are marked with the difference,
red for more memory, green for less.
"""

from __future__ import annotations

from html import escape

import panel as pn

from ..i18n import block_label, category_label, t
from ..model.compare import ComparisonRow, comparison_rows
from ..model.gpus import gpu_capacity_mib, verdict
from ..model.result import CATEGORIES
from ..model.units import format_memory
from ..pins import MAX_PINS, Pin, Pins
from ..session import Session
from ..view import View
from .theme import card, html
from .widgets import label

LETTERS = "ABCD"
MORE_COLOR, LESS_COLOR, MARK_BACKGROUND = "#c62828", "#2e7d32", "#fff4e5"


def _row_label(row: ComparisonRow, lang: str) -> str:
    if row.key == "peak":
        return t("total.label", lang)
    if row.key == "stage":
        return t("stages.stage", lang, stage=row.stage)
    return category_label(row.key, lang) if row.key in CATEGORIES else block_label(row.key, lang)


def _cell(mib: float | None, delta: float | None, differs: bool, unit: str) -> str:
    if mib is None:
        return '<td class="memviz-compare-none">–</td>'
    if not differs:
        return f"<td>{format_memory(mib, unit)}</td>"
    color = MORE_COLOR if delta > 0 else LESS_COLOR
    sign = "+" if delta > 0 else "−"
    return (f'<td class="memviz-compare-diff" style="background:{MARK_BACKGROUND}">{format_memory(mib, unit)}'
            f'<br><small style="color:{color}">{sign}{format_memory(abs(delta), unit)}</small></td>')


def comparison_html(pins: list[Pin], lang: str, unit: str, gpu: str, custom_gib: float) -> str:
    """The pins side by side as a table; a hint while nothing is pinned."""
    if not pins:
        return f'<div class="memviz-hint">{escape(t("compare.empty", lang, max=MAX_PINS))}</div>'
    head = "".join(f'<th><b>{LETTERS[i]}</b><br><span class="memviz-sub">{escape(p.label)}</span></th>'
                   for i, p in enumerate(pins))
    capacity = gpu_capacity_mib(gpu, custom_gib)
    fits = "".join(f"<td>{escape(t('verdict.fits' if verdict(p.estimate, capacity).fits else 'verdict.oom', lang))}"
                   f" · {escape(t('stages.stage', lang, stage=p.estimate.peak_stage.stage))}</td>" for p in pins)
    rows = [f'<tr><th>{escape(t("compare.verdict", lang))}</th>{fits}</tr>']
    for row in comparison_rows([p.estimate for p in pins]):
        cells = "".join(_cell(m, d, x, unit) for m, d, x in zip(row.mib, row.deltas(), row.differs(), strict=True))
        rows.append(f'<tr data-row="{escape(row.key)}{"" if row.stage is None else row.stage}">'
                    f"<th>{escape(_row_label(row, lang))}</th>{cells}</tr>")
    return (f'<table class="memviz-formulas memviz-compare"><thead><tr><th></th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


class CompareCard(pn.viewable.Viewer):
    """Pin buttons, the pinned configurations with a remove button each, and the comparison table."""

    def __init__(self, session: Session, view: View, pins: Pins, **params):
        super().__init__(**params)
        self.session, self.view, self.pins = session, view, pins

    def _pin_list(self, pinned: list[Pin], lang: str) -> pn.viewable.Viewable:
        rows = []
        for index, pin in enumerate(pinned):
            remove = pn.widgets.Button(name=f"✕ {LETTERS[index]}", width=60, margin=(2, 10),
                                       css_classes=["memviz-unpin"], description=t("compare.remove", lang))
            remove.on_click(lambda _e, index=index: self.pins.remove(index))
            rows.append(pn.Row(remove, html(f'<div class="memviz-text">{escape(pin.label)}</div>', margin=(8, 4))))
        if not rows:  # an empty layout is Bokeh's warning W-1002
            return pn.Spacer(height=0, sizing_mode="stretch_width")
        return pn.Column(*rows, sizing_mode="stretch_width")

    def __panel__(self) -> pn.Column:
        s, v, p = self.session, self.view, self.pins
        add = pn.widgets.Button(
            label=label("compare.pin", v.param.lang), color="primary", variant="outline", width=220,
            css_classes=["memviz-pin"],
            disabled=pn.bind(lambda pinned, problem: len(pinned) >= MAX_PINS or bool(problem), p.param.pins,
                             s.param.problem),
        )
        add.on_click(lambda _e: p.add(s))
        title = html(pn.bind(lambda lang: f'<div class="memviz-card-title">{escape(t("compare.title", lang))}</div>',
                             v.param.lang), margin=(4, 10), max_width=420)
        table = html(pn.bind(comparison_html, p.param.pins, v.param.lang, v.param.unit, v.param.gpu,
                             v.param.custom_gib), css_classes=["memviz-compare-table"])
        return card(pn.FlexBox(title, add, flex_wrap="wrap", justify_content="space-between",
                               sizing_mode="stretch_width"),
                    pn.panel(pn.bind(self._pin_list, p.param.pins, v.param.lang), sizing_mode="stretch_width"),
                    table, css_classes=("memviz-compare-card",))
