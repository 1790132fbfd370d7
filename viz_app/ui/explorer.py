"""The explorer card: every valid strategy for the current model on N GPUs, as a sortable table and a
chart; clicking a row or a point loads that strategy into the main view.

It searches only while it is open (`ExploreInputs.shown`), and its table and chart are built when it
is first opened. The exploration is redone only when what it depends on changes (the model, the
options it does not vary, precision, its own inputs, the GPU), not when the user moves through
strategies or closes and opens the card again.
"""

from __future__ import annotations

import unicodedata
from html import escape

import holoviews as hv
import pandas as pd
import panel as pn
import param

from .. import plots
from ..i18n import t
from ..model.analytic.explore import explore_analytic
from ..model.config import TrainingConfig
from ..model.csv_export import exploration_csv
from ..model.errors import MemvizError
from ..model.explore.costs import COMM_KINDS
from ..model.explore.table import Exploration
from ..model.galvatron.explore import explore_galvatron
from ..model.gpus import gpu_capacity_mib
from ..model.units import to_unit
from ..session import ANALYTIC, Session
from ..view import View
from .exports import download_button, png_button
from .theme import card, html, text
from .widgets import from_param, label

TABLE_ROWS = 200  # the table lists the first strategies in the explorer's order (sortable among them)
CHART_POINTS = 500
# The download: the first strategies in the explorer's order. All of a 671B MoE's on 2048 GPUs would be
# ~180 MB, made in the page (15 s in CPython); `memviz explore --csv` prints every one.
CSV_ROWS = 10_000
# Analytic options each row sets itself (the explorer varies them), so they do not call for a new search.
VARIED_OPTIONS = {"recompute", "schedule", "virtual_stages", "context_parallel", "pp_division"}
CONFIG_INPUTS = ("sequence_parallel", "mixed_precision", "num_layers")
GIB = 1 << 30
LATIN_CHAR_PX, CJK_CHAR_PX, CELL_PADDING_PX = 7, 13, 16


class ExplorerCard(pn.viewable.Viewer):
    """The explorer of one session, in the view's language and unit."""

    exploration = param.ClassSelector(class_=Exploration, allow_None=True, doc="The last search that ran.")
    problem = param.String("", doc="Why the inputs cannot be searched ('' when they can).")

    def __init__(self, session: Session, view: View, **params):
        super().__init__(**params)
        self.session, self.view = session, view
        self._signature: tuple | None = None
        self._results: pn.Column | None = None  # the summary, chart and table, built when first shown
        session.param.watch(self._refresh, ["estimate", "mode", "profile"])
        # Edited in place, and an edit the estimate refuses changes no estimate.
        session.config.param.watch(self._refresh, list(CONFIG_INPUTS))
        for obj in (session.arch, session.options):
            obj.param.watch(self._refresh, [name for name in obj.param if name != "name"])
        view.explore.param.watch(self._refresh, ["shown", "gpus", "global_batch_size", "seq_length"])
        view.param.watch(self._refresh, ["gpu", "custom_gib"])
        self._refresh()

    def _inputs(self) -> tuple:
        """Everything the search depends on, to tell whether it must run again."""
        s, v = self.session, self.view
        model = (("arch", tuple(s.arch.values().items()),
                  tuple((k, str(x)) for k, x in s.options.values().items() if k not in VARIED_OPTIONS))
                 if s.mode == ANALYTIC else ("profile", id(s.profile)))
        config = tuple(getattr(s.config, name) for name in CONFIG_INPUTS)
        return (s.mode, model, config, v.explore.gpus, v.explore.global_batch_size, v.explore.seq_length,
                gpu_capacity_mib(v.gpu, v.custom_gib))

    def _refresh(self, *_events) -> None:
        if not self.view.explore.shown:
            return
        signature = self._inputs()
        if signature == self._signature:
            return
        self._signature = signature
        s, inputs = self.session, self.view.explore
        config = TrainingConfig()
        capacity_mib = signature[-1]
        try:
            config.apply(**{**{name: getattr(s.config, name) for name in CONFIG_INPUTS},
                            "global_batch_size": inputs.global_batch_size, "seq_length": inputs.seq_length})
            if s.mode == ANALYTIC:
                exploration = explore_analytic(s.arch, config, s.options, inputs.gpus, capacity_mib)
            else:
                exploration = explore_galvatron(s.profile, config, inputs.gpus, capacity_mib)
        except MemvizError as exc:
            self.problem = exc.text
            return
        self.problem = ""
        self.exploration = exploration

    def load(self, index: int) -> None:
        """Load the strategy at position `index` of the explorer's order into the session."""
        if self.exploration is None or not 0 <= index < len(self.exploration):
            return
        row = self.exploration.rows(index + 1)[index]
        inputs = self.view.explore
        config = {"tp": row["tp"], "pp": row["pp"], "dp": row["dp"], "total_gpus": row["tp"] * row["pp"] * row["dp"],
                  "micro_batch_size": row["micro_batch_size"], "global_batch_size": inputs.global_batch_size,
                  "chunks": row["chunks"], "zero_stage": row["zero_stage"], "seq_length": inputs.seq_length,
                  "ep": row["ep"], "etp": row["etp"]}
        if self.session.mode == ANALYTIC:
            options = {"recompute": row["recompute"], "schedule": row["schedule"], "pp_division": None,
                       "virtual_stages": row["virtual_stages"], "context_parallel": row["context_parallel"]}
            config["checkpoint"] = False
        else:
            options = {}
            config["checkpoint"] = row["recompute"] == "full"
        self.session.apply_strategy(config, options)

    def _csv(self) -> str:
        """The download: the first CSV_ROWS strategies of the last search."""
        return exploration_csv(self.exploration, CSV_ROWS) if self.exploration is not None else ""

    def _load_point(self, point: int) -> None:
        """Load the strategy drawn as the chart's point `point`."""
        if self.exploration is not None:
            self.load(int(self.exploration.sample_positions(CHART_POINTS)[point]))

    def _table(self, exploration: Exploration | None, lang: str, unit: str) -> pn.widgets.DataFrame:
        """A new table for each search (a Bokeh DataTable whose data is replaced keeps showing the old rows)."""
        frame = _frame(exploration, lang, unit)
        table = pn.widgets.DataFrame(
            frame, show_index=False, disabled=True, sortable=True, reorderable=False,
            height=360, sizing_mode="stretch_width", css_classes=["memviz-explore-table"], selection=[],
            # Widths of our own, the table scrolling sideways: squeezed into the card (force_fit), 22
            # columns cut every title to a few letters; Bokeh 3.9's content-based autosizing throws in
            # the browser ("row is not defined").
            autosize_mode="none", widths=_column_widths(frame),
        )
        table.param.watch(lambda event: self.load(event.new[0]) if event.new else None, "selection")
        self.table = table
        return table

    def _chart(self) -> pn.pane.HoloViews:
        v = self.view
        chart = hv.DynamicMap(pn.bind(_chart, self.param.exploration, v.param.lang, v.param.unit))
        self.chart_selection = hv.streams.Selection1D(source=chart)
        self.chart_selection.add_subscriber(lambda index: self._load_point(index[0]) if index else None)
        return pn.pane.HoloViews(chart, height=320, sizing_mode="stretch_width", linked_axes=False)

    def _results_or_hint(self, shown: bool) -> pn.viewable.Viewable:
        """The search's summary, chart and table while the card is open (made once); a hint while it is closed."""
        v = self.view
        if not shown:
            return text(label("explore.closed", v.param.lang), "memviz-hint")
        if self._results is None:
            summary = html(pn.bind(_summary_html, self.param.exploration, self.param.problem, v.param.lang),
                           css_classes=["memviz-explore-summary"])
            table = pn.panel(pn.bind(self._table, self.param.exploration, v.param.lang, v.param.unit),
                             sizing_mode="stretch_width")
            hint = text(label("explore.hint", v.param.lang), "memviz-hint")
            chart = self._chart()
            as_csv = download_button(self._csv, "memviz-explore.csv", "download.csv", v.param.lang,
                                     "memviz-explore-csv", margin=(4, 10), align="end")
            exports = pn.Row(png_button(chart, "memviz-explorer.png", v.param.lang), as_csv)
            self._results = pn.Column(summary, chart, table, pn.Row(hint, exports), sizing_mode="stretch_width")
        return self._results

    def __panel__(self) -> pn.Column:
        v, inputs = self.view, self.view.explore
        fields = [from_param(pn.widgets.IntInput, inputs.param[name], name=label(f"explore.{key}", v.param.lang),
                             width=150, css_classes=[f"memviz-explore-{key}"])
                  for name, key in (("gpus", "gpus"), ("global_batch_size", "gbs"), ("seq_length", "seq"))]
        show = from_param(pn.widgets.Toggle, inputs.param.shown, name=label("explore.show", v.param.lang),
                          color="primary", variant="outline", width=190, align="end",
                          css_classes=["memviz-explore-show"])
        title = html(pn.bind(lambda lang, gpus: '<div class="memviz-card-title">'
                             f'{escape(t("explore.title", lang, gpus=gpus))}</div>', v.param.lang, inputs.param.gpus),
                     margin=(4, 10))
        body = pn.panel(pn.bind(self._results_or_hint, inputs.param.shown), sizing_mode="stretch_width")
        return card(title, pn.FlexBox(*fields, show, flex_wrap="wrap"), body, css_classes=("memviz-explorer",))


def _chart(exploration: Exploration | None, lang: str, unit: str) -> hv.Overlay:
    if exploration is None:
        return hv.Overlay([hv.Points([])])
    return plots.explorer_chart(exploration, lang, unit, limit=CHART_POINTS)


def _summary_html(exploration: Exploration | None, problem: str, lang: str) -> str:
    if problem:
        return f'<div class="memviz-error">✕ {escape(t("explore.error", lang, error=problem))}</div>'
    if exploration is None:
        return ""
    fitting = int(exploration.columns["fits"].sum()) if len(exploration) else 0
    line = t("explore.summary", lang, count=len(exploration), fits=fitting,
             shown=min(TABLE_ROWS, len(exploration)))
    reasons = ", ".join(f"{t(f'explore.reason.{reason}', lang)} {count}"
                        for reason, count in sorted(exploration.excluded.items()))
    excluded = (f'<div class="memviz-sub">{escape(t("explore.excluded", lang, reasons=reasons))}</div>'
                if reasons else "")
    return (f'<div class="memviz-text" data-count="{len(exploration)}" data-fits="{fitting}">{escape(line)}</div>'
            f"{excluded}")


COLUMNS = (("tp", "tp"), ("pp", "pp"), ("dp", "dp"), ("cp", "context_parallel"), ("ep", "ep"), ("etp", "etp"),
           ("zero", "zero_stage"),
           ("mbs", "micro_batch_size"), ("chunks", "chunks"), ("recompute", "recompute"), ("schedule", "schedule"),
           ("virtual", "virtual_stages"))


# Cells holding an option's code show its name in the page's language.
NAMED_CELLS = {"recompute": "formula.recompute.{}", "schedule": "opt.schedule.{}"}


def _cell(field: str, value, lang: str):
    return t(NAMED_CELLS[field].format(value), lang) if field in NAMED_CELLS else value


def _text_px(text: str) -> int:
    """About how wide `text` is drawn in the table's font: a CJK character takes about two Latin ones."""
    return sum(CJK_CHAR_PX if unicodedata.east_asian_width(c) in "WF" else LATIN_CHAR_PX for c in text)


def _column_widths(frame: pd.DataFrame) -> dict[str, int]:
    """Each column as wide as its title or its widest cell, whichever is wider."""
    return {name: CELL_PADDING_PX + max([_text_px(str(name)), *(_text_px(str(v)) for v in frame[name])])
            for name in frame.columns}


def _frame(exploration: Exploration | None, lang: str, unit: str) -> pd.DataFrame:
    """The first TABLE_ROWS strategies with translated column titles; memory in `unit`, traffic in GiB."""
    if exploration is None:
        return pd.DataFrame()
    rows = exploration.rows(TABLE_ROWS)
    columns = {t(f"explore.col.{key}", lang): [_cell(field, r[field], lang) for r in rows] for key, field in COLUMNS}
    columns[t("explore.col.peak", lang, unit=unit)] = [round(to_unit(r["peak_mib"], unit), 1) for r in rows]
    columns[t("explore.col.headroom", lang, unit=unit)] = [round(to_unit(r["headroom_mib"], unit), 1) for r in rows]
    columns[t("explore.col.fits", lang)] = [t("verdict.fits" if r["fits"] else "verdict.oom", lang) for r in rows]
    columns[t("explore.col.bubble", lang)] = [round(r["bubble"], 4) for r in rows]
    columns[t("explore.col.recompute_overhead", lang)] = [round(r["recompute_overhead"], 4) for r in rows]
    for kind in COMM_KINDS:
        columns[t("explore.col.comm", lang, kind=kind.upper())] = [round(r["comm_bytes"][kind] / GIB, 2)
                                                                    for r in rows]
    return pd.DataFrame(columns)
